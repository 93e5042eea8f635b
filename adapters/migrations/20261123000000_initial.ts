// Initial schema: the provider's payload table plus the product's own records
// (users, clients, resource servers and their scopes).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One row per provider artefact (token, code, session, interaction, grant...).
  // `id`, `uid` and `user_code` hold SHA-256 digests, never raw values; `payload` is sealed.
  await knex.schema.createTable('oidc_payloads', (table) => {
    table.string('model', 48).notNullable();
    table.string('id', 64).notNullable();
    table.text('payload').notNullable();
    table.string('grant_id', 128).nullable();
    table.string('uid', 64).nullable();
    table.string('user_code', 64).nullable();
    table.string('account_id', 128).nullable();
    table.string('client_id', 255).nullable();
    table.bigInteger('expires_at').nullable();
    table.bigInteger('consumed_at').nullable();
    table.primary(['model', 'id']);
    table.index(['grant_id'], 'oidc_payloads_grant_id');
    table.index(['uid'], 'oidc_payloads_uid');
    table.index(['user_code'], 'oidc_payloads_user_code');
    table.index(['model', 'account_id', 'client_id'], 'oidc_payloads_account_client');
    table.index(['expires_at'], 'oidc_payloads_expires_at');
  });

  await knex.schema.createTable('users', (table) => {
    table.string('id', 64).primary();
    table.string('email', 320).notNullable().unique();
    table.string('name', 200).nullable();
    table.boolean('email_verified').notNullable().defaultTo(false);
    table.string('password_hash', 255).notNullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('disabled_at').nullable();
  });

  // Every OAuth client: third-party apps, service clients and the resource servers that call
  // introspection. `metadata` is RFC 7591 client metadata without the secret, which is sealed.
  await knex.schema.createTable('clients', (table) => {
    table.string('client_id', 255).primary();
    table.text('metadata').notNullable();
    table.text('secret_sealed').nullable();
    table.string('kind', 32).notNullable().defaultTo('app');
    table.string('source', 32).notNullable().defaultTo('cli');
    // Operator-reviewed: dynamically registered clients start unverified (consent-phishing warning).
    table.boolean('verified').notNullable().defaultTo(false);
    table.bigInteger('created_at').notNullable();
    table.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('resource_servers', (table) => {
    table.string('id', 255).primary();
    table.string('name', 200).notNullable();
    table.string('token_format', 16).notNullable().defaultTo('opaque');
    table.integer('access_token_ttl').notNullable();
    table
      .string('introspection_client_id', 255)
      .nullable()
      .unique()
      .references('client_id')
      .inTable('clients')
      .onDelete('SET NULL');
    table.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('resource_scopes', (table) => {
    table.string('resource_id', 255).notNullable().references('id').inTable('resource_servers').onDelete('CASCADE');
    // A scope belongs to exactly one resource server, so a scope names its audience.
    table.string('scope', 128).notNullable().unique();
    table.string('description', 500).notNullable();
    table.primary(['resource_id', 'scope']);
  });

  await knex.schema.createTable('meta', (table) => {
    table.string('key', 64).primary();
    table.text('value').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['meta', 'resource_scopes', 'resource_servers', 'clients', 'users', 'oidc_payloads']) {
    await knex.schema.dropTableIfExists(table);
  }
}
