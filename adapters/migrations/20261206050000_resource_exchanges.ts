// Which resource servers may exchange a token they received for one to another API (RFC 8693
// token exchange): one row per (caller, downstream) pair. Additive: older instances ignore it.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('resource_exchanges', (table) => {
    table.string('resource_id', 255).notNullable().references('id').inTable('resource_servers').onDelete('CASCADE');
    table.string('target_id', 255).notNullable().references('id').inTable('resource_servers').onDelete('CASCADE');
    table.primary(['resource_id', 'target_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('resource_exchanges');
}
