// Whether this instance should get traffic: not while it shuts down, and only while the database
// answers with the schema this code needs (an instance started ahead of its migrations waits).
// The keys are loaded before the listener opens, so an instance that answers at all has them.
import type { Knex } from 'knex';
import { pendingMigrations } from '../../adapters/migrations/index.ts';

export type Readiness = { ready: true } | { ready: false; reason: string };

export async function readiness(db: Knex, lifecycle?: { shuttingDown: boolean }): Promise<Readiness> {
  if (lifecycle?.shuttingDown) return { ready: false, reason: 'shutting down' };
  try {
    const pending = await pendingMigrations(db);
    if (pending.length) return { ready: false, reason: `database schema not current: ${pending.length} migration(s) pending` };
    return { ready: true };
  } catch {
    return { ready: false, reason: 'database' };
  }
}
