// The authorization-detail types a resource server declares (RFC 9396 rich authorization
// requests): one row per type, owned by exactly one resource server, with the JSON Schema a
// requested detail must satisfy and the plain words the consent page shows for it. A type name
// is unique across resource servers, so a detail names its API by its type alone. Additive:
// older instances ignore the table.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('resource_detail_types', (table) => {
    table.string('type', 100).primary();
    table.string('resource_id', 255).notNullable().references('id').inTable('resource_servers').onDelete('CASCADE');
    // The JSON Schema, as the operator wrote it (JSON text).
    table.text('schema').notNullable();
    table.string('describe', 500).notNullable();
    table.index(['resource_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('resource_detail_types');
}
