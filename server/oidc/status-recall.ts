// Every way a grant ends recalls its JWT access tokens (their status list bits are set), because
// every way goes through the storage adapter: the account page's and the operators' revoke
// (services/grants.ts), reuse detection (single-use.ts), logout and the revocation endpoint
// (oidc-provider's revoke helper) all destroy the Grant; revoking an access token at the
// revocation endpoint ends the grant's access tokens (AccessToken.revokeByGrantId) but not the
// grant. The recall is written after the adapter's own writes and the same way (in the
// request's unit when there is one), so it commits with the tombstone.
import type { Adapter } from 'oidc-provider';
import type { StatusLists } from '../services/status-lists.ts';

/** The adapter factory with grant revocations also recalling the grant's JWT access tokens. */
export function recallingJwtAccessTokens(factory: (model: string) => Adapter, statusLists: Pick<StatusLists, 'recallGrant'>): (model: string) => Adapter {
  return (model) => {
    const inner = factory(model);
    if (model !== 'Grant' && model !== 'AccessToken') return inner;
    // Delegation method by method: the adapter's methods use private fields, so they must run on it.
    return {
      upsert: (id, payload, expiresIn) => inner.upsert(id, payload, expiresIn),
      find: (id) => inner.find(id),
      findByUid: (uid) => inner.findByUid(uid),
      findByUserCode: (userCode) => inner.findByUserCode(userCode),
      consume: (id) => inner.consume(id),
      async destroy(id) {
        await inner.destroy(id);
        if (model === 'Grant') await statusLists.recallGrant(id);
      },
      async revokeByGrantId(grantId) {
        await inner.revokeByGrantId(grantId);
        await statusLists.recallGrant(grantId);
      },
    };
  };
}
