// What the user-control features keep: an audit trail (never a secret or token value), and a
// per-resource cap on how long a user may grant access.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_events', (table) => {
    table.bigIncrements('id').primary();
    table.bigInteger('at').notNullable();
    table.string('event', 64).notNullable();
    table.string('account_id', 128).nullable();
    table.string('client_id', 255).nullable();
    table.string('grant_id', 128).nullable();
    table.string('actor', 32).nullable();
    table.string('ip', 64).nullable();
    table.text('details').nullable();
    table.index(['account_id', 'at'], 'audit_events_account');
    table.index(['client_id', 'at'], 'audit_events_client');
    table.index(['grant_id'], 'audit_events_grant');
  });
  await knex.schema.alterTable('resource_servers', (table) => {
    // Seconds; null means no cap beyond the server's GRANT_TTL.
    table.integer('max_grant_duration').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_servers', (table) => table.dropColumn('max_grant_duration'));
  await knex.schema.dropTableIfExists('audit_events');
}
