// Opaque access tokens, checked by introspection (RFC 7662) with this API's own credentials.
//
// A positive answer is reused for a few seconds (introspectionCacheSeconds, never past the
// token's exp): that many seconds is how late a revocation may be seen. A negative answer is
// never reused, so a token issued a moment ago works on its first use. Concurrent checks of one
// token share one request to the authorization server.
import crypto from 'node:crypto';
import { boundKeyOf, detailsOf, isOnlyAudience, scopesOf, type CheckedToken } from './access-token.ts';
import { askAuthorizationServer, unavailable } from './authorization-server.ts';
import type { IssuerMetadata } from './discovery.ts';
import { Refusal } from './errors.ts';
import { ExpiringCache } from './expiring-cache.ts';
import type { ResolvedOptions } from './options.ts';

// RFC 6749 §2.3.1: client id and secret are form-urlencoded before they are joined and base64'd.
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

function basic(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

/** The introspection answer as a token, or the reason it is not acceptable here. */
function readAnswer(o: ResolvedOptions, info: Record<string, unknown>): CheckedToken {
  // Latchkey answers {"active": false} alike for unknown, expired, revoked and other-audience
  // tokens (RFC 7662 §4: no token-scanning oracle), so neither can we tell the caller which.
  if (info.active !== true) throw new Refusal('invalid_token', 'The access token is not active or not meant for this API');
  if (!isOnlyAudience(info.aud, o.resource)) throw new Refusal('invalid_token', 'The access token must have this API as its only audience');
  if (info.iss !== undefined && info.iss !== o.issuer) throw new Refusal('invalid_token', 'The access token was issued by another authorization server');
  // RFC 7662 §2.2 token_type: Bearer, or DPoP for a bound token (RFC 9449 §6.2); a refresh token
  // or anything else is not an access token.
  if (info.token_type !== undefined && !/^(bearer|dpop)$/i.test(String(info.token_type))) {
    throw new Refusal('invalid_token', 'The token is not an access token');
  }
  if (typeof info.client_id !== 'string' || info.client_id === '' || typeof info.exp !== 'number') {
    // An active answer without these is the authorization server's fault, not the caller's.
    throw unavailable('introspection: an active answer without client_id or exp');
  }
  return {
    ...(typeof info.sub === 'string' ? { sub: info.sub } : {}),
    clientId: info.client_id,
    scopes: scopesOf(info.scope),
    audience: o.resource,
    expiresAt: info.exp,
    format: 'opaque',
    authorizationDetails: detailsOf(info.authorization_details),
    claims: Object.freeze({ ...info }),
    boundTo: boundKeyOf(info.cnf),
  };
}

export function createIntrospectionCheck(o: ResolvedOptions, discovery: () => Promise<IssuerMetadata>): (token: string) => Promise<CheckedToken> {
  const cache = new ExpiringCache<CheckedToken>(o.introspectionCacheMaxEntries);
  const inFlight = new Map<string, Promise<CheckedToken>>();

  async function introspect(token: string): Promise<CheckedToken> {
    const { credentials } = o;
    // Without credentials the API checks JWT access tokens only.
    if (!credentials) throw new Refusal('invalid_token', 'This API accepts JWT access tokens only');
    const { introspectionEndpoint } = await discovery();
    if (!introspectionEndpoint) throw new Refusal('invalid_token', 'This API accepts JWT access tokens only');
    const info = await askAuthorizationServer(
      introspectionEndpoint,
      {
        method: 'POST',
        headers: { authorization: basic(credentials.clientId, credentials.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      },
      o.timeoutMs,
      'introspection',
    );
    return readAnswer(o, info);
  }

  return async function checkOpaque(token) {
    // Keyed by a digest: the cache never holds a usable token, should memory ever be read.
    const key = crypto.createHash('sha256').update(token).digest('base64url');
    let checked = cache.get(key);
    if (!checked) {
      // A check that starts while one for the same token is on its way joins it: a burst of
      // requests with one token is one round trip, not a burst against the authorization server.
      let pending = inFlight.get(key);
      if (!pending) {
        pending = introspect(token)
          .then((answer) => {
            if (o.introspectionCacheSeconds > 0) {
              cache.set(key, answer, Math.min(Date.now() + o.introspectionCacheSeconds * 1000, answer.expiresAt * 1000));
            }
            return answer;
          })
          .finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      checked = await pending;
    }
    // The authorization server decides whether a token is active; this only guards against a
    // clock far ahead of ours on its side (a cached answer never outlives exp anyway).
    if (checked.expiresAt * 1000 <= Date.now() - o.clockToleranceSeconds * 1000) throw new Refusal('invalid_token', 'The access token has expired');
    return checked;
  };
}
