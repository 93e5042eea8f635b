// Tokens bound to a login session carry the session's uid; keeping its digest beside the token
// lets one statement read a token together with its session (and its grant), which is what the
// provider asks for next on every introspection and refresh.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oidc_payloads', (table) => {
    table.string('session_uid', 64).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oidc_payloads', (table) => table.dropColumn('session_uid'));
}
