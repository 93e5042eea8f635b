// Bearer token verification for the contacts API, against a Latchkey issuer.
//
// Two token formats, chosen per resource server on the authorization server:
// - JWT access tokens (RFC 9068) are verified offline with the issuer's published keys. They
//   cannot be recalled before they expire; that is the price of not asking the issuer.
// - Opaque tokens are sent to the introspection endpoint (RFC 7662) on every request. Results
//   are never cached, so a revoked token is refused on the very next request.
import { createRemoteJWKSet, errors as jose, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

export interface TokenCheckOptions {
  /** The authorization server's issuer identifier, without a trailing slash. */
  issuer: string;
  /** This API's resource identifier (RFC 8707): every accepted token has it as its only `aud`. */
  resource: string;
  /** This API's credentials at the introspection endpoint. */
  clientId: string;
  clientSecret: string;
  /** How long to wait for the authorization server (JWKS and introspection). */
  timeoutMs?: number;
}

/** What the API needs to know about a caller once its token has been accepted. */
export interface AccessToken {
  /** The user the token acts for; undefined for a client acting on its own (client_credentials). */
  sub: string | undefined;
  clientId: string;
  scopes: ReadonlySet<string>;
  format: 'jwt' | 'opaque';
}

/** The token is not acceptable here: answered with 401 invalid_token (RFC 6750 §3.1). */
export class InvalidToken extends Error {
  override name = 'InvalidToken';
}

/** The authorization server could not be asked: answered with 503, never with 401. */
export class AuthorizationServerUnavailable extends Error {
  override name = 'AuthorizationServerUnavailable';
}

export type TokenCheck = (token: string) => Promise<AccessToken>;

// Three base64url segments: a JWS in compact serialization. Latchkey's opaque tokens have no dots.
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;
// The algorithms Latchkey signs with; never HS* (that would need a shared secret) nor "none".
const ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** The token has exactly one audience and it is us (the issuer's policy; see token-policies.ts). */
function isOnlyAudience(aud: unknown, resource: string): boolean {
  if (typeof aud === 'string') return aud === resource;
  return Array.isArray(aud) && aud.length === 1 && aud[0] === resource;
}

function scopesOf(scope: unknown): Set<string> {
  return new Set(typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);
}

function postIntrospection(options: TokenCheckOptions, token: string): Promise<Response> {
  // RFC 6749 §2.3.1: client_secret_basic, both parts form-urlencoded before base64.
  const credentials = `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`;
  return fetch(`${options.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    // The endpoint never redirects; following one would send the token elsewhere.
    redirect: 'error',
  });
}

export function createTokenCheck(options: TokenCheckOptions): TokenCheck {
  const { issuer, resource } = options;
  const remoteKeys = createRemoteJWKSet(new URL(`${issuer}/jwks`), { timeoutDuration: options.timeoutMs ?? 5000 });

  // An unreachable issuer must become a 503, not an "invalid token": only "no such key" (a token
  // signed by someone else) is the token's fault.
  const keys: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remoteKeys(header, token);
    } catch (error) {
      if (error instanceof jose.JWKSNoMatchingKey || error instanceof jose.JWKSMultipleMatchingKeys) throw error;
      throw new AuthorizationServerUnavailable('could not fetch the issuer\'s signing keys', { cause: error });
    }
  };

  async function checkJwt(token: string): Promise<AccessToken> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience: resource,
        // RFC 9068 §4: `typ` at+jwt keeps ID tokens and other JWTs from the same issuer out.
        typ: 'at+jwt',
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
      }));
    } catch (error) {
      if (error instanceof AuthorizationServerUnavailable) throw error;
      if (error instanceof jose.JWTExpired) throw new InvalidToken('The access token has expired', { cause: error });
      throw new InvalidToken('The access token could not be verified', { cause: error });
    }
    if (!isOnlyAudience(payload.aud, resource)) throw new InvalidToken('The access token is not meant for this API');
    // Sender-constrained tokens (DPoP, mTLS) need a proof this API does not check: refuse them.
    if (payload.cnf !== undefined) throw new InvalidToken('Sender-constrained tokens are not supported here');
    const client = String(payload.client_id);
    // RFC 9068 §2.2: without a user, `sub` is the client's own id.
    const sub = payload.sub === client ? undefined : payload.sub;
    return { sub, clientId: client, scopes: scopesOf(payload.scope), format: 'jwt' };
  }

  async function introspect(token: string): Promise<AccessToken> {
    let response: Response;
    try {
      response = await postIntrospection(options, token);
    } catch (error) {
      throw new AuthorizationServerUnavailable('the introspection endpoint could not be reached', { cause: error });
    }
    // Anything but 200 is the issuer's problem or ours (wrong credentials), never the caller's.
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new AuthorizationServerUnavailable(`the introspection endpoint answered ${response.status}`);
    }
    let info: Record<string, unknown>;
    try {
      info = (await response.json()) as Record<string, unknown>;
    } catch (error) {
      throw new AuthorizationServerUnavailable('the introspection response is not JSON', { cause: error });
    }
    // Latchkey says `{"active": false}` alike for unknown, expired, revoked and other-audience
    // tokens (it is not a token-scanning oracle), so neither can we tell the caller which.
    if (info?.active !== true) throw new InvalidToken('The access token is not active or not meant for this API');
    if (!isOnlyAudience(info.aud, resource)) throw new InvalidToken('The access token is not meant for this API');
    if (info.iss !== undefined && info.iss !== issuer) throw new InvalidToken('The access token is from another issuer');
    if (typeof info.exp === 'number' && info.exp * 1000 <= Date.now()) throw new InvalidToken('The access token has expired');
    if (info.token_type !== undefined && info.token_type !== 'Bearer') throw new InvalidToken('Only Bearer access tokens are accepted');
    if (info.cnf !== undefined) throw new InvalidToken('Sender-constrained tokens are not supported here');
    if (typeof info.client_id !== 'string') throw new AuthorizationServerUnavailable('the introspection response has no client_id');
    return {
      sub: typeof info.sub === 'string' ? info.sub : undefined,
      clientId: info.client_id,
      scopes: scopesOf(info.scope),
      format: 'opaque',
    };
  }

  return (token) => (JWT_SHAPE.test(token) ? checkJwt(token) : introspect(token));
}

/**
 * Start-up check of this API's introspection credentials: introspects a token that cannot
 * exist. Latchkey answers 200 `{"active": false}` to a client it knows and 401 otherwise.
 */
export async function probeIntrospection(options: TokenCheckOptions): Promise<'ok' | 'rejected' | 'unreachable'> {
  try {
    const response = await postIntrospection(options, 'startup-probe');
    await response.body?.cancel();
    if (response.status === 200) return 'ok';
    return response.status === 400 || response.status === 401 ? 'rejected' : 'unreachable';
  } catch {
    return 'unreachable';
  }
}
