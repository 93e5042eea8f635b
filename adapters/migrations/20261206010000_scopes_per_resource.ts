// A scope name is unique within its resource server, no longer across all of them: two APIs may
// both define `contacts:read` (the contacts API and an MCP server over the same contacts), and a
// request that uses such a name names its API (RFC 8707 `resource`). The primary key
// (resource_id, scope) stays.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_scopes', (table) => {
    table.dropUnique(['scope']);
    table.index(['scope'], 'resource_scopes_scope');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_scopes', (table) => {
    table.dropIndex(['scope'], 'resource_scopes_scope');
    table.unique(['scope']);
  });
}
