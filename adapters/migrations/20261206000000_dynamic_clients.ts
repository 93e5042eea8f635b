// Which APIs self-registered and metadata-document clients (MCP agents) may ask for, and what a
// request that names an API without any of its scopes gets. Additive: older instances ignore the
// columns and keep serving.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_servers', (table) => {
    table.boolean('dynamic_clients').notNullable().defaultTo(false);
    // Space-separated scopes of this resource server; null: none.
    table.string('default_scope', 1000).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_servers', (table) => {
    table.dropColumn('dynamic_clients');
    table.dropColumn('default_scope');
  });
}
