// The signing and cookie keys every instance uses, kept in the database (one row, sealed with the
// data key), so that a rotation made anywhere reaches every instance: each reads the row's
// version every few seconds and reloads when it changed. The data key itself never goes here.
import type { Knex } from 'knex';
import type { Sealer } from './at-rest.ts';
import { rowsOf } from './rows.ts';

const ROW = 'provider';
/** Binds the sealed row to its purpose (a sealed payload copied here does not open). */
export const SHARED_KEYS_AAD = 'KeyMaterial:provider';
const AAD = SHARED_KEYS_AAD;

export interface SharedKeys<T> {
  keys: T;
  version: number;
}

/** The shared keys, or undefined before any instance has stored them. */
export async function readSharedKeys<T>(db: Knex, sealer: Sealer): Promise<SharedKeys<T> | undefined> {
  const [row] = rowsOf<{ sealed: string; version: number | string }>(await db.raw('SELECT sealed, version FROM key_material WHERE id = ?', [ROW]));
  if (!row) return undefined;
  return { keys: JSON.parse(sealer.open(row.sealed, AAD)) as T, version: Number(row.version) };
}

/** The row's version alone: what instances poll. */
export async function sharedKeysVersion(db: Knex): Promise<number | undefined> {
  const [row] = rowsOf<{ version: number | string }>(await db.raw('SELECT version FROM key_material WHERE id = ?', [ROW]));
  return row ? Number(row.version) : undefined;
}

/**
 * Stores `keys` if no instance has yet (instances starting at once on an empty database: the
 * first insert wins), and returns whatever the database holds afterwards.
 */
export async function initializeSharedKeys<T>(db: Knex, sealer: Sealer, keys: T, now = Date.now()): Promise<SharedKeys<T>> {
  await db.raw('INSERT INTO key_material (id, sealed, version, updated_at) VALUES (?, ?, 1, ?) ON CONFLICT (id) DO NOTHING', [ROW, sealer.seal(JSON.stringify(keys), AAD), now]);
  return (await readSharedKeys<T>(db, sealer)) as SharedKeys<T>;
}

/**
 * Replaces the keys if nobody changed them since `expected` (a compare-and-swap on the version),
 * so two rotations at once cannot lose one; returns false when another change came first.
 */
export async function replaceSharedKeys<T>(db: Knex, sealer: Sealer, keys: T, expected: number, now = Date.now()): Promise<boolean> {
  const written = rowsOf(
    await db.raw('UPDATE key_material SET sealed = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ? RETURNING id', [sealer.seal(JSON.stringify(keys), AAD), now, ROW, expected]),
  );
  return written.length > 0;
}

/** Seals the row again under the active data key (after a data key rotation). */
export async function resealSharedKeys(db: Knex, sealer: Sealer): Promise<void> {
  const current = await readSharedKeys<unknown>(db, sealer);
  if (current) await replaceSharedKeys(db, sealer, current.keys, current.version);
}
