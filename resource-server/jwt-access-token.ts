// JWT access tokens (RFC 9068), verified offline against the issuer's published keys; one that
// names a status list is also looked up there (status-list.ts), so a recall reaches the API
// within the list's ttl without asking the issuer about each token.
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { boundKeyOf, detailsOf, isOnlyAudience, scopesOf, type CheckedToken } from './access-token.ts';
import type { IssuerMetadata } from './discovery.ts';
import { unavailable } from './authorization-server.ts';
import { Refusal } from './errors.ts';
import { createStatusListCheck } from './status-list.ts';
import type { ResolvedOptions } from './options.ts';

/** Why jose refused the token, in words for the caller (error_description). */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The access token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'aud':
        return 'The access token is not meant for this API';
      case 'iss':
        return 'The access token was issued by another authorization server';
      case 'typ':
        // RFC 9068 §4: keeps ID tokens and other JWTs from the same issuer out.
        return 'The token is not a JWT access token (typ must be at+jwt)';
      case 'nbf':
        return 'The access token is not valid yet';
      default:
        return `The access token has an invalid or missing ${error.claim} claim`;
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The access token is signed with an algorithm this API does not accept';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The access token signature is invalid';
  if (error instanceof errors.JWKSNoMatchingKey) return 'The access token is signed with a key the authorization server does not publish';
  return 'The access token is malformed';
}

export function createJwtCheck(o: ResolvedOptions, discovery: () => Promise<IssuerMetadata>): (token: string) => Promise<CheckedToken> {
  let remote: ReturnType<typeof createRemoteJWKSet> | undefined;

  // jose fetches the key set on first use, again after its cache age (10 min) and at once for an
  // unknown key id (new keys after a rotation; at most every 30 s). Only "no such key" is the
  // token's fault: a fetch that fails is the issuer's, a 503.
  const keys: JWTVerifyGetKey = async (header, token) => {
    remote ??= createRemoteJWKSet((await discovery()).jwksUri, { timeoutDuration: o.timeoutMs });
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      // The periodic refresh failed: the keys we have are still the issuer's last word, so a
      // token they verify stays good while the issuer is down (offline verification's point).
      // A token naming a key we never saw still needs the issuer: 503.
      const known = remote.jwks();
      if (known) {
        try {
          return await createLocalJWKSet(known)(header, token);
        } catch {
          // fall through: the refresh was needed for this token
        }
      }
      throw unavailable('jwks: the signing keys could not be fetched', error);
    }
  };

  const checkStatus = createStatusListCheck(o, keys);

  return async function checkJwt(token) {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: o.issuer,
        audience: o.resource,
        // jose compares typ case-insensitively and with or without "application/" (RFC 9068 §4).
        typ: 'at+jwt',
        algorithms: [...o.jwtAlgorithms],
        // RFC 9068 §2.2 requires these; client_id and exp are what we use.
        requiredClaims: ['exp', 'iat', 'client_id', 'jti'],
        clockTolerance: o.clockToleranceSeconds,
      }));
    } catch (error) {
      if (error instanceof Refusal) throw error;
      throw new Refusal('invalid_token', describe(error), { cause: error });
    }
    const { aud, iat, exp, client_id: clientId } = payload as JWTPayload & { client_id?: unknown };
    if (!isOnlyAudience(aud, o.resource)) throw new Refusal('invalid_token', 'The access token must have this API as its only audience');
    // jose checks iat only against a maximum age; a token from the future is forged or skewed.
    if (typeof iat !== 'number' || iat > Date.now() / 1000 + o.clockToleranceSeconds) throw new Refusal('invalid_token', 'The access token has an invalid iat claim');
    if (typeof clientId !== 'string' || clientId === '') throw new Refusal('invalid_token', 'The access token has an invalid client_id claim');
    const boundTo = boundKeyOf(payload.cnf);
    // §8.3: the token is valid in every other respect first; only then is its status looked up.
    await checkStatus(payload.status, iat);
    return {
      // RFC 9068 §2.2: without a user, `sub` is the client's own id; we report no user then.
      ...(typeof payload.sub === 'string' && payload.sub !== clientId ? { sub: payload.sub } : {}),
      clientId,
      scopes: scopesOf(payload.scope),
      audience: o.resource,
      expiresAt: exp as number,
      format: 'jwt',
      authorizationDetails: detailsOf(payload.authorization_details),
      claims: Object.freeze({ ...payload }),
      boundTo,
    };
  };
}
