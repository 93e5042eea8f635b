// Most rows leave most lookup columns empty (a token has no uid or user_code, a
// client-credentials token no grant or account), yet a plain index holds an entry for every row,
// NULL included: each token insert and each purged row paid for index entries nobody looks up.
// Partial indexes keep only the rows that have the value; every lookup compares the column with
// a value, which implies IS NOT NULL, so SQLite and PostgreSQL still use them.
import type { Knex } from 'knex';

const PARTIAL: Array<[name: string, columns: string, column: string]> = [
  ['oidc_payloads_grant_id', 'grant_id', 'grant_id'],
  ['oidc_payloads_uid', 'uid', 'uid'],
  ['oidc_payloads_user_code', 'user_code', 'user_code'],
  ['oidc_payloads_account_client', 'model, account_id, client_id', 'account_id'],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, columns, column] of PARTIAL) {
    await knex.raw(`DROP INDEX IF EXISTS ${name}`);
    await knex.raw(`CREATE INDEX ${name} ON oidc_payloads (${columns}) WHERE ${column} IS NOT NULL`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [name, columns] of PARTIAL) {
    await knex.raw(`DROP INDEX IF EXISTS ${name}`);
    await knex.raw(`CREATE INDEX ${name} ON oidc_payloads (${columns})`);
  }
}
