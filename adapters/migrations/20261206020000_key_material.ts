// Signing and cookie keys shared by every instance through the database, sealed with the data key
// (which stays outside the database, the same on every instance). One row; `version` grows with
// every change so instances notice a rotation by reading one small row.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('key_material', (table) => {
    table.string('id', 32).primary();
    table.text('sealed').notNullable();
    table.integer('version').notNullable();
    table.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('key_material');
}
