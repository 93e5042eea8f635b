// JWT access tokens point into their resource server's status list (draft-ietf-oauth-status-list
// §6.1): `status: {status_list: {idx, uri}}`, set by oidc-provider's JWT customizer
// (`formats.customizers.jwt`, documented) just before the token is signed. The index is taken
// from a block this instance leased beforehand and its entry is written with the token's other
// writes (services/status-lists.ts), so the token path gains one queued insert and no round trip.
//
// Only access tokens issued under a grant get a status: a grant is what users and operators
// revoke. Client-credentials tokens (no grant) have none; nothing would ever set their bit.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { StatusLists } from '../services/status-lists.ts';

interface TokenBeingSigned {
  kind?: string;
  grantId?: string;
}

interface StructuredJwt {
  payload: Record<string, unknown>;
}

export function statusClaimCustomizer(statusLists: Pick<StatusLists, 'assign'>) {
  return async function addStatusClaim(_ctx: KoaContextWithOIDC, token: TokenBeingSigned, jwt: StructuredJwt): Promise<void> {
    if (token.kind !== 'AccessToken' || typeof token.grantId !== 'string') return;
    const { aud, exp } = jwt.payload;
    // Latchkey issues one audience per token (RFC 9068 §3): the resource server whose list it is.
    const resource = typeof aud === 'string' ? aud : Array.isArray(aud) && aud.length === 1 && typeof aud[0] === 'string' ? aud[0] : undefined;
    if (resource === undefined || typeof exp !== 'number') return;
    jwt.payload.status = await statusLists.assign(resource, token.grantId, exp);
  };
}
