// Small facts about the Knex connection that the storage code needs, whichever driver answers.
import type { Knex } from 'knex';

export function isPostgres(db: Knex): boolean {
  return db.client.config.client === 'pg';
}

/** Rows from `db.raw`, whichever driver answered. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
