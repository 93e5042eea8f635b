// Status lists for JWT access tokens (draft-ietf-oauth-status-list): each JWT carries an index
// into its resource server's list, and recalling the token sets its bit there. Additive: older
// instances ignore the tables and the column.
//
// status_list_blocks: indexes are handed to instances in blocks (a lease), so issuing a token
// takes no allocation statement of its own; a block is taken again only once its lease has
// ended and every token that held one of its indexes has expired (`live_until`, written by the
// instance when it moves on from the block; without it, the block's entries say).
// status_list_entries: one row per JWT access token issued under a grant: which grant holds the
// index (the digest, as oidc_payloads.grant_id), until when, and whether it has been recalled.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('status_list_blocks', (table) => {
    table.string('list_id', 64).notNullable();
    table.integer('block').notNullable();
    table.bigInteger('leased_until').notNullable();
    table.bigInteger('live_until').nullable();
    table.primary(['list_id', 'block']);
  });
  await knex.schema.createTable('status_list_entries', (table) => {
    table.string('list_id', 64).notNullable();
    table.integer('idx').notNullable();
    table.string('grant_id', 128).notNullable();
    table.bigInteger('expires_at').notNullable();
    table.smallint('status').notNullable().defaultTo(0);
    table.primary(['list_id', 'idx']);
    table.index(['grant_id'], 'status_list_entries_grant');
  });
  // Only recalled entries are read when a list is built: keep just those in the index, so the
  // issuing insert (status 0) pays for no entry in it; with expires_at and idx in it, a list is
  // built from the index alone (10,000 recalled: ~25 ms → ~6 ms on SQLite).
  await knex.raw('CREATE INDEX status_list_entries_recalled ON status_list_entries (list_id, expires_at, idx) WHERE status <> 0');
  // Null: the default (30 s). How long an API may cache this resource server's list.
  await knex.schema.alterTable('resource_servers', (table) => {
    table.integer('status_list_ttl').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_servers', (table) => {
    table.dropColumn('status_list_ttl');
  });
  await knex.schema.dropTableIfExists('status_list_entries');
  await knex.schema.dropTableIfExists('status_list_blocks');
}
