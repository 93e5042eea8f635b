// The account area (connected apps) once signed users in through the authorization endpoint as
// a client of the server itself: 'latchkey-account', a `system` row in the clients table, which
// left a grant per user in the payload table. It now signs users in on its own page, straight
// into the login session (server/routes/account-session.ts), so that client and its grants are
// removed from databases that still have them.
import type { Knex } from 'knex';
import { TABLE } from '../../adapters/payload-reader.ts';

export const RETIRED_ACCOUNT_CLIENT_ID = 'latchkey-account';

/**
 * Removes the retired client and what was issued to it. Run at every start (bootstrap.ts), not
 * once as a migration: an instance of an older version (a rollback, an instance not yet upgraded
 * restarting) recreates the row, and its grants would then appear on the connected-apps page as
 * an app. With the row absent this is one primary-key lookup.
 *
 * Only the `system` row is taken: an operator's own client that later took the id is left alone.
 * Its grants and codes go by their `client_id` column, in the same transaction as the row, so a
 * crash cannot leave grants behind with nothing left to find them by. They need no tombstone:
 * no token was ever issued under them (the old sign-in never redeemed its codes), and a code
 * still in flight names a client that no longer exists.
 *
 * Sessions signed in that way keep an `authorizations` entry for the client inside their sealed
 * payload. It is harmless and left to expire with them: the provider's logout revokes the
 * (gone) grant as a no-op, and the logout page lists only clients that exist (oidc/pages.ts).
 */
export async function removeRetiredAccountClient(db: Knex): Promise<{ removed: boolean; payloads: number }> {
  return db.transaction(async (trx) => {
    const removed = await trx('clients').where({ client_id: RETIRED_ACCOUNT_CLIENT_ID, source: 'system' }).del();
    if (!removed) return { removed: false, payloads: 0 };
    // The (model, account_id, client_id) index narrows this to the two models.
    const payloads = await trx(TABLE).whereIn('model', ['Grant', 'AuthorizationCode']).andWhere('client_id', RETIRED_ACCOUNT_CLIENT_ID).del();
    return { removed: true, payloads };
  });
}
