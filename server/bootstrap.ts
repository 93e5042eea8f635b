// Everything that must hold before the server accepts requests: schema, the key/database
// pairing, and demo data on a fresh development database.
import type { Knex } from 'knex';
import { migrateToLatest } from '../adapters/migrations/index.ts';
import type { Config } from './config/env.ts';
import type { KeyMaterial } from './config/keys.ts';
import { loadSharedKeys, withSharedKeys } from './services/shared-keys.ts';
import { checkKeyPairing } from './services/key-pairing.ts';
import { isPostgres } from '../adapters/rows.ts';
import type { Logger } from './log.ts';
import { isDatabaseEmpty, seedDemoData } from './services/demo-data.ts';
import { createManagement } from './management.ts';
import { removeRetiredAccountClient, RETIRED_ACCOUNT_CLIENT_ID } from './services/account-area.ts';

/** An arbitrary constant naming Latchkey's bootstrap lock among PostgreSQL advisory locks. */
const BOOTSTRAP_LOCK = 7_316_245_001;

/**
 * One instance at a time migrates and seeds: several starting at once on an empty PostgreSQL
 * database would otherwise race (Knex's migration lock refuses the second one outright, and two
 * demo seeds collide on alice's email, 23505). A session-level advisory lock, held on one
 * connection while the work runs; the others wait, then find nothing left to do. One SQLite file
 * has one instance, so it needs none.
 */
async function oneAtATime<T>(db: Knex, work: () => Promise<T>): Promise<T> {
  if (!isPostgres(db)) return work();
  const connection = (await db.client.acquireConnection()) as { query(sql: string, values?: unknown[]): Promise<unknown> };
  try {
    await connection.query('SELECT pg_advisory_lock($1)', [BOOTSTRAP_LOCK]);
    try {
      return await work();
    } finally {
      await connection.query('SELECT pg_advisory_unlock($1)', [BOOTSTRAP_LOCK]);
    }
  } finally {
    await db.client.releaseConnection(connection);
  }
}

export interface PreparedKeys {
  /** The file's data keys with the signing and cookie keys every instance shares. */
  keys: KeyMaterial;
  /** The shared keys' version in the database (instances poll it to notice a rotation). */
  version: number;
}

export async function prepareDatabase(
  db: Knex,
  { config, keys: fileKeys, log }: { config: Readonly<Config>; keys: KeyMaterial; log: Logger },
): Promise<PreparedKeys> {
  return oneAtATime(db, async () => {
    const applied = await migrateToLatest(db);
    if (applied.length) log.info('database migrated', { applied });
    await checkKeyPairing(db, fileKeys, config.keysJson ? 'LATCHKEY_KEYS' : config.keysFile);
    // The first instance's signing and cookie keys become everyone's.
    const shared = await loadSharedKeys(db, fileKeys);
    const keys = withSharedKeys(fileKeys, shared.keys);
    // The account area signs in on its own page now; the client it used to sign in with goes.
    const retired = await removeRetiredAccountClient(db);
    if (retired.removed) log.info('retired account-area client removed', { client: RETIRED_ACCOUNT_CLIENT_ID, payloads: retired.payloads });
    if (config.seedDemo && (await isDatabaseEmpty(db))) {
      const summary = await seedDemoData(createManagement(db, { config, keys, log }), { keysFile: config.keysFile, log });
      log.info('demo data seeded', summary);
    }
    return { keys, version: shared.version };
  });
}
