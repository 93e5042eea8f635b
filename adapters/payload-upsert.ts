// The payload table's upsert, for one row or many in one statement.
//
// Token requests write little else, and rows that arrive together (a group commit's batch, or
// the tokens of one refresh) go in one statement: one parse, one round trip, one B-tree descent
// per index, instead of one of each per row. Every row keeps its own conditions, exactly as a
// statement of its own would: it is written only while its grant has no tombstone, and
// `consumed_at` is never overwritten (re-saving never un-consumes). RETURNING names the rows
// written, so a row refused for its tombstone fails only the request that wrote it.
import type { Knex } from 'knex';
import { REVOKED, TABLE } from './payload-reader.ts';

/** The values of one row, in COLUMNS order. */
export type UpsertRow = readonly [
  model: string,
  id: string,
  payload: string,
  grantId: string | null,
  uid: string | null,
  userCode: string | null,
  accountId: string | null,
  clientId: string | null,
  sessionUid: string | null,
  expiresAt: number | null,
];

const COLUMNS = ['model', 'id', 'payload', 'grant_id', 'uid', 'user_code', 'account_id', 'client_id', 'session_uid', 'expires_at'];
// PostgreSQL types a VALUES list from its first row, and an untyped parameter is text.
// Each row is followed by its guard: the grant whose tombstone refuses it.
const FIRST_ROW_PG = `(${[...COLUMNS, 'guard'].map((column) => (column === 'expires_at' ? 'CAST(? AS BIGINT)' : 'CAST(? AS TEXT)')).join(', ')})`;
const ROW = `(${[...COLUMNS, 'guard'].map(() => '?').join(', ')})`;
const UPDATE = COLUMNS.filter((column) => column !== 'model' && column !== 'id')
  .map((column) => `${column} = excluded.${column}`)
  .join(', ');

/** A key naming the row, the same for RETURNING's `model` and `id`. */
export function rowKey(model: string, id: string): string {
  return `${model}:${id}`;
}

/**
 * One statement writing `rows` (distinct keys: one statement may not touch a row twice), each
 * only while the grant named by its guard (a grant id digest, or null for none) is not revoked.
 */
export function upsertStatement(
  rows: readonly UpsertRow[],
  guards: ReadonlyArray<string | null>,
  dialect: 'sqlite' | 'pg',
): { sql: string; bindings: Knex.RawBinding[] } {
  const values = rows.map((_, i) => (i === 0 && dialect === 'pg' ? FIRST_ROW_PG : ROW)).join(', ');
  return {
    // SQLite needs the WHERE (even a trivial one) to read ON CONFLICT as the upsert clause.
    sql: `INSERT INTO ${TABLE} (${COLUMNS.join(', ')})
          SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8, v.column9, v.column10
          FROM (VALUES ${values}) AS v
          WHERE NOT EXISTS (SELECT 1 FROM ${TABLE} t WHERE t.model = '${REVOKED}' AND t.id = v.column11)
          ON CONFLICT (model, id) DO UPDATE SET ${UPDATE}
          RETURNING model, id`,
    bindings: rows.flatMap((row, i) => [...row, guards[i] ?? null]) as Knex.RawBinding[],
  };
}
