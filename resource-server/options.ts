// The verifier's options: each one documented where it is defined, parsed once into a frozen
// object and checked at construction, so a wrong value stops the API at start-up naming the
// option instead of turning every request into a 401.
import { metadataUrlFor, resourcePathOf } from './urls.ts';

export interface TokenVerifierOptions {
  /**
   * The authorization server's issuer identifier, exactly as it publishes it (Latchkey: the
   * `ISSUER` setting, e.g. `https://login.example.com`). Its discovery document,
   * `<issuer>/.well-known/openid-configuration`, names the JWKS and the introspection endpoint;
   * every accepted token names this issuer. `https`, or `http` on a loopback host (development).
   */
  issuer: string;
  /**
   * This API's resource identifier (RFC 8707 §2), e.g. `https://contacts-api.example`: an
   * absolute URL without fragment. Every accepted token has it as its one and only audience.
   */
  resource: string;
  /**
   * This API's credentials at the introspection endpoint (RFC 7662 §2.1), as `latchkey resource
   * add` printed them. Without them, opaque tokens cannot be checked and are refused: the API
   * then accepts JWT access tokens only.
   */
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /**
   * Scopes every request needs when a route names none of its own (a route's scopes replace
   * these, they do not add to them). Default: none.
   */
  requiredScopes?: readonly string[] | undefined;
  /**
   * Leeway for clocks that disagree (s): applied to `exp`, `nbf` and `iat` of access tokens and
   * to DPoP proofs dated in the future. Default 5.
   */
  clockToleranceSeconds?: number | undefined;
  /**
   * How long to wait for the authorization server (ms) on each call: discovery, JWKS and
   * introspection. Past it the request is answered 503, never 401. Default 5000.
   */
  timeoutMs?: number | undefined;
  /**
   * How long an "active" introspection answer is reused (s), 0 to 30. Default 5. This is how
   * late a revocation can be seen; 0 asks the authorization server on every request. An answer
   * is never kept past the token's `exp`, and "inactive" answers are never kept at all: a token
   * issued a moment ago works on its first use.
   */
  introspectionCacheSeconds?: number | undefined;
  /** At most this many introspection answers are kept (the oldest go first). Default 10000. */
  introspectionCacheMaxEntries?: number | undefined;
  /**
   * JWS algorithms accepted for JWT access tokens. Asymmetric only: an HMAC key would be a secret
   * shared with every API, and `none` is no signature. Default `RS256 PS256 ES256 EdDSA`.
   */
  jwtAlgorithms?: readonly string[] | undefined;
  /**
   * Refuse access tokens that are not DPoP-bound (RFC 9449); published as
   * `dpop_bound_access_tokens_required` in the metadata (RFC 9728 §2). Default false: bound
   * tokens must come with a proof, unbound ones are accepted as Bearer tokens.
   */
  dpopRequired?: boolean | undefined;
  /**
   * JWS algorithms accepted for DPoP proofs (asymmetric only), sent as `algs` in DPoP challenges
   * (RFC 9449 §7.1) and published as `dpop_signing_alg_values_supported`. Default
   * `ES256 EdDSA Ed25519 PS256 RS256`.
   */
  dpopAlgorithms?: readonly string[] | undefined;
  /** The oldest DPoP proof accepted, in seconds since its `iat` (RFC 9449 §11.1). Default 60. */
  dpopMaxAgeSeconds?: number | undefined;
  /**
   * At most this many DPoP proof ids are remembered to refuse replays. Default 100000: enough for
   * about 1600 proofs a second over the default 60 s window; beyond that the oldest are forgotten
   * early and could be replayed within the rest of their window.
   */
  dpopReplayCacheMaxEntries?: number | undefined;
  /**
   * The origin clients reach this API at (`https://api.example.com`), when it differs from what the
   * API sees (behind a proxy) or is not the resource identifier. It is the origin the DPoP `htu`
   * is checked against and the one the metadata URL is built on. Default: the request's own
   * scheme and Host header as the framework reports them, and the resource identifier's origin
   * for the metadata URL.
   */
  publicUrl?: string | undefined;
  /**
   * The URL of this API's protected resource metadata (RFC 9728), sent as `resource_metadata` in
   * every challenge. Default: the well-known URL with the resource identifier's path inserted
   * (RFC 9728 §3.1), on `publicUrl`'s origin when set, else on the resource identifier's origin.
   */
  metadataUrl?: string | undefined;
}

export interface ResolvedOptions {
  readonly issuer: string;
  readonly resource: string;
  /** The resource identifier's path (without a lone `/`), inserted after the well-known path. */
  readonly resourcePath: string;
  readonly credentials: { readonly clientId: string; readonly clientSecret: string } | undefined;
  readonly requiredScopes: readonly string[];
  readonly clockToleranceSeconds: number;
  readonly timeoutMs: number;
  readonly introspectionCacheSeconds: number;
  readonly introspectionCacheMaxEntries: number;
  readonly jwtAlgorithms: readonly string[];
  readonly dpopRequired: boolean;
  readonly dpopAlgorithms: readonly string[];
  readonly dpopMaxAgeSeconds: number;
  readonly dpopReplayCacheMaxEntries: number;
  readonly publicOrigin: string | undefined;
  readonly metadataUrl: string;
  readonly discoveryUrl: string;
}

// Public-key signatures only (RFC 8725 §3.1: never let the token choose a symmetric or "none" algorithm).
const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
// What Latchkey (oidc-provider) signs access tokens with.
const JWT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
// oidc-provider's DPoP default is ES256, Ed25519 and EdDSA; RSA is common in other clients.
const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];
// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); never a quote or backslash, so a
// scope can go into a quoted-string challenge parameter as it is.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function fail(option: string, problem: string): never {
  throw new TypeError(`latchkey/resource-server: option ${option} ${problem}`);
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(hostname) || hostname === '[::1]';
}

function parseUrl(option: string, value: unknown): URL {
  if (typeof value !== 'string') fail(option, 'must be a URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(option, `is not an absolute URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(option, 'must be an http(s) URL');
  if (url.hash || value.includes('#')) fail(option, 'must not have a fragment');
  return url;
}

function wholeNumber(option: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) fail(option, `must be a whole number from ${min} to ${max}`);
  return value;
}

function algorithms(option: string, value: readonly string[] | undefined, fallback: string[]): readonly string[] {
  if (value === undefined) return Object.freeze([...fallback]);
  if (!Array.isArray(value) || value.length === 0) fail(option, 'must be a non-empty list');
  const refused = value.filter((alg) => !ASYMMETRIC.has(alg));
  if (refused.length > 0) fail(option, `may list only asymmetric algorithms (${[...ASYMMETRIC].join(' ')}); refused: ${refused.join(' ')}`);
  return Object.freeze([...new Set(value)]);
}

/** Checks scope names (a route's or `requiredScopes`); returns them frozen, without repeats. */
export function checkScopes(option: string, scopes: readonly string[]): readonly string[] {
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) fail(option, `has an invalid scope name: ${JSON.stringify(scope)}`);
  }
  return Object.freeze([...new Set(scopes)]);
}

export function resolveOptions(options: TokenVerifierOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') fail('object', 'is required');
  const issuer = parseUrl('issuer', options.issuer);
  if (issuer.protocol === 'http:' && !isLoopback(issuer.hostname)) fail('issuer', 'must be https (http only on a loopback host)');
  if (issuer.search) fail('issuer', 'must not have a query (RFC 8414 §2)');
  const resource = parseUrl('resource', options.resource);

  const { clientId, clientSecret } = options;
  if ((clientId === undefined) !== (clientSecret === undefined)) fail('clientId/clientSecret', 'must be given together');
  if (clientId !== undefined && (typeof clientId !== 'string' || clientId === '')) fail('clientId', 'must be a non-empty string');
  if (clientSecret !== undefined && (typeof clientSecret !== 'string' || clientSecret === '')) fail('clientSecret', 'must be a non-empty string');

  let publicOrigin: string | undefined;
  if (options.publicUrl !== undefined) {
    const url = parseUrl('publicUrl', options.publicUrl);
    if (url.pathname !== '/' || url.search) fail('publicUrl', 'must be an origin only (scheme, host and port)');
    publicOrigin = url.origin;
  }
  const metadataUrl = options.metadataUrl === undefined ? metadataUrlFor(resource, publicOrigin) : parseUrl('metadataUrl', options.metadataUrl).href;

  return Object.freeze({
    issuer: options.issuer,
    resource: options.resource,
    resourcePath: resourcePathOf(resource),
    credentials: clientId !== undefined && clientSecret !== undefined ? Object.freeze({ clientId, clientSecret }) : undefined,
    requiredScopes: checkScopes('requiredScopes', options.requiredScopes ?? []),
    clockToleranceSeconds: wholeNumber('clockToleranceSeconds', options.clockToleranceSeconds, 5, 0, 300),
    timeoutMs: wholeNumber('timeoutMs', options.timeoutMs, 5000, 1, 60_000),
    introspectionCacheSeconds: wholeNumber('introspectionCacheSeconds', options.introspectionCacheSeconds, 5, 0, 30),
    introspectionCacheMaxEntries: wholeNumber('introspectionCacheMaxEntries', options.introspectionCacheMaxEntries, 10_000, 1, 10_000_000),
    jwtAlgorithms: algorithms('jwtAlgorithms', options.jwtAlgorithms, JWT_ALGORITHMS),
    dpopRequired: options.dpopRequired === true,
    dpopAlgorithms: algorithms('dpopAlgorithms', options.dpopAlgorithms, DPOP_ALGORITHMS),
    dpopMaxAgeSeconds: wholeNumber('dpopMaxAgeSeconds', options.dpopMaxAgeSeconds, 60, 1, 600),
    dpopReplayCacheMaxEntries: wholeNumber('dpopReplayCacheMaxEntries', options.dpopReplayCacheMaxEntries, 100_000, 1, 10_000_000),
    publicOrigin,
    metadataUrl,
    // OpenID Connect Discovery §4: the issuer without a trailing slash, then the well-known path.
    discoveryUrl: `${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
  });
}
