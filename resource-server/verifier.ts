// createTokenVerifier: the whole check of one request, step by step, in the order a reader can
// follow and that spends the least before refusing:
//   credentials (Authorization header) → DPoP proof, when the DPoP scheme is used → the token
//   (JWT offline, or opaque by introspection) → key binding → proof id not seen → scopes.
// Each step throws a Refusal; here it becomes the TokenError with the challenge to send.
import type { AccessToken, CheckedToken } from './access-token.ts';
import { readCredentials } from './authorization-header.ts';
import { createDiscovery } from './discovery.ts';
import { createDpopVerifier, type VerifiedProof } from './dpop-proof.ts';
import { Refusal, TokenError } from './errors.ts';
import { createIntrospectionCheck } from './introspection.ts';
import { createJwtCheck } from './jwt-access-token.ts';
import { checkScopes, resolveOptions, type ResolvedOptions, type TokenVerifierOptions } from './options.ts';
import { acceptedAcrValues, checkAcrRequirement, type AcrRequirement } from './acr.ts';

/** An HTTP request as the verifier needs it; the framework adapters build it. */
export interface ProtectedRequest {
  /** The request method, e.g. `GET` (a DPoP proof's `htm`). */
  method: string;
  /** The absolute URL the client sent the request to (a DPoP proof's `htu`; query ignored). */
  url: string;
  /** The Authorization header: one value, or every value if the header was repeated. */
  authorization?: string | readonly string[] | undefined;
  /** The DPoP header: one value, or every value if the header was repeated. */
  dpop?: string | readonly string[] | undefined;
}

export interface VerifyOptions {
  /** The scopes this request needs; default the verifier's `requiredScopes`. */
  scopes?: readonly string[] | undefined;
  /**
   * How strongly the user must have signed in (RFC 9470): a minimum Latchkey level
   * (`'urn:latchkey:acr:passkey'`) or the accepted `acr` values. Default: any.
   */
  acr?: AcrRequirement | undefined;
}

export interface TokenVerifier {
  /**
   * Resolves with the accepted token; rejects with a TokenError (status, WWW-Authenticate, body)
   * for a request to refuse. Any other rejection is a bug, not an answer.
   */
  verifyRequest(request: ProtectedRequest, options?: VerifyOptions): Promise<AccessToken>;
  /** The options with their defaults, as checked at construction. */
  readonly options: ResolvedOptions;
}

// Three base64url segments: a JWS in compact serialization. Latchkey's opaque tokens have no dots.
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const o = resolveOptions(options);
  const discovery = createDiscovery(o);
  const checkJwt = createJwtCheck(o, discovery);
  const checkOpaque = createIntrospectionCheck(o, discovery);
  const dpop = createDpopVerifier(o);

  function bindingOf(token: CheckedToken, scheme: 'Bearer' | 'DPoP', proof: VerifiedProof | undefined): string | undefined {
    if (token.boundTo !== undefined) {
      // RFC 9449 §7.2: a bound token sent as a bearer token is refused; the proof makes it usable.
      if (!proof) throw new Refusal('invalid_token', 'The access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof', { scheme: 'DPoP' });
      // §7.1's own example: a proof by another key is an invalid token binding.
      if (proof.jkt !== token.boundTo) throw new Refusal('invalid_token', 'Invalid DPoP key binding', { scheme: 'DPoP' });
      if (!dpop.remember(proof)) throw new Refusal('invalid_dpop_proof', 'The DPoP proof has been used before', { scheme: 'DPoP' });
      return proof.jkt;
    }
    // An unbound token with the DPoP scheme claims a binding it does not have (§7.1).
    if (scheme === 'DPoP') throw new Refusal('invalid_token', 'The access token is not DPoP-bound', { scheme: 'DPoP' });
    if (o.dpopRequired) throw new Refusal('invalid_token', 'This API accepts DPoP-bound access tokens only', { scheme: 'DPoP' });
    return undefined;
  }

  async function verify(request: ProtectedRequest, needed: readonly string[], acr: readonly string[] | undefined): Promise<AccessToken> {
    const credentials = readCredentials(request.authorization);
    // RFC 6750 §2: a token goes in one place. The URL form (§2.3) is never read (URLs end up in
    // logs and Referer headers), and both at once is a malformed request (§3.1 invalid_request).
    if (credentials && URL.parse(request.url)?.searchParams.has('access_token')) {
      throw new Refusal('invalid_request', 'Send the access token in the Authorization header only, not also in the URL');
    }
    // The scopes to start with go in the challenge (RFC 6750 §3; the MCP authorization spec's
    // scope selection: a client asks for what the first challenge names, then steps up).
    if (!credentials) throw new Refusal(undefined, 'This API needs an access token in the Authorization header', needed.length ? { scope: needed.join(' ') } : {});
    const proof =
      credentials.scheme === 'DPoP'
        ? await dpop.verify(request.dpop, { method: request.method, url: request.url, accessToken: credentials.token })
        : undefined;
    const token = await (JWT_SHAPE.test(credentials.token) ? checkJwt(credentials.token) : checkOpaque(credentials.token));
    const jkt = bindingOf(token, credentials.scheme, proof);
    const missing = needed.filter((scope) => !token.scopes.has(scope));
    if (missing.length > 0) {
      // RFC 6750 §3.1 and the MCP step-up rule: name every scope the route needs, not only the
      // missing ones, so the client asks for all of them in one new authorization.
      throw new Refusal('insufficient_scope', `The access token lacks the scope ${missing.join(' ')}`, {
        scope: needed.join(' '),
        ...(jkt ? { scheme: 'DPoP' as const } : {}),
      });
    }
    const signedIn = { ...(typeof token.claims.acr === 'string' ? { acr: token.claims.acr } : {}), ...(typeof token.claims.auth_time === 'number' ? { authTime: token.claims.auth_time } : {}) };
    if (acr && !(signedIn.acr && acr.includes(signedIn.acr))) {
      // RFC 9470 §3: 401 with the acr values that would do, so the client sends the user back
      // to sign in that way (Latchkey honours acr_values) and retries with the new token.
      throw new Refusal('insufficient_user_authentication', `This request needs a stronger sign-in (${acr.join(' or ')})`, { acrValues: acr, ...(jkt ? { scheme: 'DPoP' as const } : {}) });
    }
    const { boundTo: _boundTo, ...accepted } = token;
    return { ...accepted, ...signedIn, ...(jkt ? { jkt } : {}) };
  }

  return {
    options: o,
    async verifyRequest(request, verifyOptions = {}) {
      const needed = verifyOptions.scopes === undefined ? o.requiredScopes : checkScopes('scopes', verifyOptions.scopes);
      const acr = verifyOptions.acr === undefined ? undefined : acceptedAcrValues(checkAcrRequirement(verifyOptions.acr));
      try {
        return await verify(request, needed, acr);
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        // The DPoP scheme when the request used it, the token or proof called for it, or the API
        // takes nothing else (RFC 9449 §7.1); Bearer otherwise (RFC 6750 §3).
        const header = typeof request.authorization === 'string' ? request.authorization : request.authorization?.[0];
        const usedDpop = /^\s*dpop\s/i.test(header ?? '');
        const scheme = error.details.scheme === 'DPoP' || usedDpop || o.dpopRequired ? 'DPoP' : 'Bearer';
        throw new TokenError(error, { scheme, metadataUrl: o.metadataUrl, dpopAlgorithms: o.dpopAlgorithms });
      }
    },
  };
}
