// Small facts about the Knex connection that the storage code needs, whichever driver answers,
// and the one helper its batched statements share.
import type { Knex } from 'knex';

export function isPostgres(db: Knex): boolean {
  return db.client.config.client === 'pg';
}

/** Rows from `db.raw`, whichever driver answered. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

/** A unique constraint refused the write (two creations racing for one email, id or name). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; errno?: unknown; message?: unknown };
  if (e?.code === '23505') return true;
  return e?.code === 'SQLITE_CONSTRAINT' && typeof e.message === 'string' && e.message.includes('UNIQUE');
}

/**
 * `values` padded to a power of two by repeating the last one (a repeated value or pair in an IN
 * list changes nothing): a batched statement then takes few shapes, each prepared once.
 */
export function paddedToPowerOfTwo<T>(values: readonly T[]): T[] {
  let size = 1;
  while (size < values.length) size *= 2;
  return values.concat(Array<T>(size - values.length).fill(values[values.length - 1] as T));
}
