// Passkeys (WebAuthn credentials) of users, the single-use challenges of their ceremonies, and
// which resource-server scopes need a passkey-strength sign-in. Additive: older instances ignore
// the new tables and column (a scope flagged here is then not enforced by them, as before).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('passkeys', (table) => {
    // The credential id (base64url) is unique across authenticators: the lookup of a sign-in.
    table.string('id', 1400).primary();
    table.string('account_id', 64).notNullable().references('id').inTable('users').onDelete('CASCADE');
    // COSE public key, base64url; not a secret (it only verifies signatures).
    table.text('public_key').notNullable();
    table.bigInteger('counter').notNullable().defaultTo(0);
    table.string('transports', 200).nullable();
    table.string('name', 100).notNullable();
    table.boolean('backed_up').notNullable().defaultTo(false);
    table.bigInteger('created_at').notNullable();
    table.bigInteger('last_used_at').nullable();
    table.index(['account_id'], 'passkeys_account');
  });
  // A challenge is consumed by deleting its row: of two uses of one, only one deletes it.
  await knex.schema.createTable('webauthn_challenges', (table) => {
    table.string('challenge', 64).primary();
    // What it is for and bound to: `interaction:<uid>` (sign-in) or `register:<account id>`.
    table.string('binding', 200).notNullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('expires_at').notNullable();
    table.index(['binding'], 'webauthn_challenges_binding');
    table.index(['expires_at'], 'webauthn_challenges_expiry');
  });
  await knex.schema.alterTable('resource_scopes', (table) => {
    table.boolean('requires_passkey').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('resource_scopes', (table) => table.dropColumn('requires_passkey'));
  await knex.schema.dropTableIfExists('webauthn_challenges');
  await knex.schema.dropTableIfExists('passkeys');
}
