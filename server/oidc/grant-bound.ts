// No token carries more than its grant (services/grant-scopes.ts), checked where the provider
// has both in hand, so it costs no extra lookup: on refresh right after the grant is loaded, and
// at introspection in the allowed policy (token-policies.ts). The account page narrows stored
// tokens when the user removes a scope; this catches the token a request racing that edit wrote
// from what it had read before it.
import Provider, { errors } from 'oidc-provider';
import { narrowToGrant, type GrantScopes, type TokenScopes } from '../services/grant-scopes.ts';

interface RefreshTokenEntity extends TokenScopes {
  accountId?: string;
  clientId?: string;
  grantId?: string;
  sessionUid?: string;
}

/**
 * Narrows a presented refresh token to its grant, in place, before the provider checks the
 * requested scope against it or copies it to its successor. One that has lost offline_access is
 * bound to its login session from now on, and refused when that session has ended (what
 * oidc-provider's own session binding would have done had offline_access never been given).
 */
export async function holdToGrant(provider: Provider, token: RefreshTokenEntity, grant: GrantScopes): Promise<void> {
  const narrowed = narrowToGrant(token, grant);
  if (!narrowed.changed) return;
  const bindsNow = narrowed.expiresWithSession === true && token.expiresWithSession !== true;
  token.scope = narrowed.scope;
  token.resource = narrowed.resource;
  token.expiresWithSession = narrowed.expiresWithSession;
  if (!bindsNow) return;
  const session = token.sessionUid ? await provider.Session.findByUid(token.sessionUid) : undefined;
  if (!session || session.accountId !== token.accountId || session.grantIdFor(String(token.clientId)) !== token.grantId) {
    throw new errors.InvalidGrant('refresh token not found');
  }
}
