// Migrations are imported explicitly (not discovered on disk) so they run the same under tsx,
// in tests and from the CLI, and their order is the order of this list.
import type { Knex } from 'knex';
import * as initial from './20261123000000_initial.ts';
import * as rateLimits from './20261124000000_rate_limits.ts';
import * as userControl from './20261124010000_user_control.ts';
import * as sessionUid from './20261124020000_session_uid.ts';
import * as partialIndexes from './20261124030000_partial_indexes.ts';
import * as dynamicClients from './20261206000000_dynamic_clients.ts';
import * as scopesPerResource from './20261206010000_scopes_per_resource.ts';
import * as keyMaterial from './20261206020000_key_material.ts';
import * as resourceExchanges from './20261206050000_resource_exchanges.ts';
import * as statusLists from './20261207000000_status_lists.ts';
import * as authorizationDetailTypes from './20261208000000_authorization_detail_types.ts';
import * as passkeys from './20261208100000_passkeys.ts';

const migrations: Record<string, Knex.Migration> = {
  '20261123000000_initial': initial,
  '20261124000000_rate_limits': rateLimits,
  '20261124010000_user_control': userControl,
  '20261124020000_session_uid': sessionUid,
  '20261124030000_partial_indexes': partialIndexes,
  '20261206000000_dynamic_clients': dynamicClients,
  '20261206010000_scopes_per_resource': scopesPerResource,
  '20261206020000_key_material': keyMaterial,
  '20261206050000_resource_exchanges': resourceExchanges,
  '20261207000000_status_lists': statusLists,
  '20261208000000_authorization_detail_types': authorizationDetailTypes,
  '20261208100000_passkeys': passkeys,
};

export const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    return Object.keys(migrations);
  },
  getMigrationName(name) {
    return name;
  },
  async getMigration(name) {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};

/** Migrations this code knows that the database has not run (an older schema). */
export async function pendingMigrations(db: Knex): Promise<string[]> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], Array<string | { file?: string; name?: string }>];
  return pending.map((m) => (typeof m === 'string' ? m : (m.name ?? m.file ?? '?')));
}

export async function migrateToLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}
