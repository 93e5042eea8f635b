// The payload table's conditional consume, for one row or many in one statement.
//
// A consume marks a code or refresh token used only if nothing has used it yet
// (`consumed_at IS NULL`): of two requests presenting it, exactly one wins. Rows consumed
// together (a group commit's batch of refreshes) go in one statement; RETURNING names the rows
// this statement consumed, so each request learns on its own whether it won.
import type { Knex } from 'knex';
import { TABLE } from './payload-reader.ts';
import { paddedToPowerOfTwo } from './rows.ts';

/** Which row, and when it was consumed (epoch ms). */
export type ConsumeRow = readonly [model: string, id: string, at: number];

/**
 * One statement consuming `rows` (distinct keys). The rows share one consumption time, the
 * latest of theirs: they commit together, within the same millisecond or two.
 */
export function consumeStatement(rows: readonly ConsumeRow[]): { sql: string; bindings: Knex.RawBinding[] } {
  const pairs = paddedToPowerOfTwo(rows);
  return {
    sql: `UPDATE ${TABLE} SET consumed_at = ?
          WHERE consumed_at IS NULL AND (model, id) IN (VALUES ${pairs.map(() => '(?, ?)').join(', ')})
          RETURNING model, id`,
    bindings: [Math.max(...rows.map((row) => row[2])), ...pairs.flatMap(([model, id]) => [model, id])],
  };
}
