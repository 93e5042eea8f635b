// The symbolic request model and the generators shared by every target: parameters (present,
// missing, repeated, unknown), methods, content types, broken bodies, Authorization headers,
// cookies, Accept and other headers. A generated request is a `RequestSpec`: JSON-printable and
// shrinkable; http.ts turns it into bytes against the live state.
import fc from 'fast-check';
import { bigVal, paramVal, smallString, structuredVal, type RefName, type Val } from './values.ts';

export type Target =
  | 'authorize'
  | 'token'
  | 'introspection'
  | 'revocation'
  | 'registration'
  | 'registration-management'
  | 'end-session'
  | 'end-session-confirm'
  | 'userinfo'
  | 'discovery'
  | 'jwks'
  | 'interaction'
  | 'health'
  | 'unknown'
  /** The admin API: /admin/v1/*, its OpenAPI document and its protected-resource metadata. */
  | 'admin';

export interface Param {
  name: string;
  value: Val;
  /** plain: percent-encoded; raw: `%` sequences and reserved characters sent as they are; brackets: `a[0]=`, `a[k]=`; bare: `name` without `=`. */
  style: 'plain' | 'raw' | 'brackets' | 'bare';
}

export type PathSpec =
  | { t: 'fixed'; path: string }
  | { t: 'reg'; id: Val }
  | { t: 'interaction'; uid: Val; action: string }
  | { t: 'resume'; uid: Val }
  | { t: 'random'; segments: string[] }
  /**
   * An admin API path, `/admin/v1/users/{id}` say, with the `{…}` filled in by `id`: `plain`
   * percent-encodes it (a resource identifier becomes `https%3A%2F%2F…`), `raw` sends `%`
   * sequences and `/` as they are, `double` percent-encodes it twice.
   */
  | { t: 'admin'; template: string; id?: Val; encoding?: 'plain' | 'raw' | 'double' };

export type BodySpec =
  | { t: 'none' }
  | { t: 'form'; params: Param[] }
  | { t: 'json'; value: Val }
  /** JSON cut after `cut` characters. */
  | { t: 'truncated-json'; value: Val; cut: number }
  | { t: 'text'; text: string }
  | { t: 'big'; big: Val }
  /** `n` levels of nested arrays or objects (parser recursion). */
  | { t: 'nested'; n: number; kind: 'array' | 'object' };

export type AuthSpec =
  | { t: 'none' }
  | { t: 'basic'; id: Val; secret: Val; urlencode: boolean }
  /** A real client id with its own secret. */
  | { t: 'basic-valid'; client: RefName; slot: number }
  | { t: 'basic-garbage'; text: string; base64: boolean }
  | { t: 'bearer'; token: Val; scheme: string }
  | { t: 'raw'; text: string };

export type CookieSpec =
  | { t: 'none' }
  | { t: 'interaction'; slot: number; tamper: boolean }
  | { t: 'session'; slot: number; tamper: boolean }
  | { t: 'garbage'; text: string };

export interface RequestSpec {
  target: Target;
  method: string;
  path: PathSpec;
  query: Param[];
  body: BodySpec;
  /** `auto`: the one matching the body; `none`: no Content-Type header. */
  contentType: string;
  auth: AuthSpec;
  cookie: CookieSpec;
  /** Accept header; undefined: none sent. */
  accept: string | undefined;
  /** Extra headers: Origin, DPoP, X-Forwarded-*, Host... */
  headers: Array<[string, string]>;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked: boolean;
}

// --- building blocks -------------------------------------------------------------------------

export interface ParamDef {
  name: string;
  refs?: RefName[];
  good?: string[];
  /** Probability the parameter is present (default 0.5). */
  p?: number;
}

export const STYLE = fc.oneof(
  { arbitrary: fc.constant('plain' as const), weight: 12 },
  { arbitrary: fc.constant('raw' as const), weight: 2 },
  { arbitrary: fc.constant('brackets' as const), weight: 1 },
  { arbitrary: fc.constant('bare' as const), weight: 1 },
);

export const param = (name: fc.Arbitrary<string>, value: fc.Arbitrary<Val>): fc.Arbitrary<Param> => fc.record({ name, value, style: STYLE });

/** Present with probability p. */
export function maybe<T>(arb: fc.Arbitrary<T>, p: number): fc.Arbitrary<T | undefined> {
  const absent = Math.max(1, Math.round((1 - p) * 20));
  const present = Math.max(1, Math.round(p * 20));
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: absent }, { arbitrary: arb, weight: present });
}

const RANDOM_NAMES = ['', ' ', '__proto__', 'constructor', 'toString', 'a[b]', 'a[]', 'scope[]', '%00', 'x'.repeat(300), 'request', 'claims', 'foo'];

/**
 * The endpoint's parameters, each present with its probability, a value drawn from its valid
 * references, known-good constants and hostile values; plus, sometimes, repeated parameters
 * (the same name twice) and unknown ones.
 */
export function params(defs: ParamDef[]): fc.Arbitrary<Param[]> {
  const known = fc.tuple(...defs.map((d) => maybe(param(fc.constant(d.name), paramVal(d.refs, d.good)), d.p ?? 0.5)));
  const names = defs.map((d) => d.name);
  const repeated = fc.oneof(
    { arbitrary: fc.constant([] as Param[]), weight: 8 },
    { arbitrary: fc.array(param(fc.constantFrom(...names), paramVal(defs.flatMap((d) => d.refs ?? []))), { minLength: 1, maxLength: 2 }), weight: 1 },
  );
  const unknown = fc.oneof(
    { arbitrary: fc.constant([] as Param[]), weight: 6 },
    { arbitrary: fc.array(param(fc.oneof(smallString, fc.constantFrom(...RANDOM_NAMES)), paramVal()), { minLength: 1, maxLength: 3 }), weight: 1 },
  );
  return fc.tuple(known, repeated, unknown).map(([k, r, u]) => [...k.filter((p): p is Param => p !== undefined), ...r, ...u]);
}

export const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'FOO', 'M-SEARCH'];

/** The endpoint's own methods most of the time, any method sometimes. */
export function method(...own: string[]): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: fc.constantFrom(...own), weight: 10 }, { arbitrary: fc.constantFrom(...METHODS), weight: 1 });
}

export const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset=latin1',
  'application/x-www-form-urlencoded; charset=utf-16le',
  'application/x-www-form-urlencoded; charset=bogus',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=nope',
  'application/jwt',
  'text/plain',
  'text/html',
  'multipart/form-data; boundary=xyz',
  'multipart/form-data',
  'application/xml',
  'application/octet-stream',
  '*/*',
  'application/',
  ';;;',
  'application/x-www-form-urlencoded, application/json',
  '',
];

export const contentType: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant('auto'), weight: 12 },
  { arbitrary: fc.constant('none'), weight: 1 },
  { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 3 },
  { arbitrary: smallString, weight: 1 },
);

const BROKEN_TEXT = ['{', '}', '[', '{"a":', '{"redirect_uris":[}', 'null', '[]', '"string"', '1', 'true', '%%%&&&=', '&&&', '=', '==&==', 'a=%zz', 'a=%', '\u0000', '\ufeff{}', '{"a":1}{"b":2}', '{"__proto__":{"x":1}}', '<xml/>'];

/** Broken or mismatched bodies, used on every body-taking endpoint. */
export const brokenBody: fc.Arbitrary<BodySpec> = fc.oneof(
  fc.record({ t: fc.constant('text' as const), text: fc.oneof(fc.constantFrom(...BROKEN_TEXT), smallString) }),
  fc.record({ t: fc.constant('truncated-json' as const), value: structuredVal, cut: fc.nat(40) }),
  fc.record({ t: fc.constant('json' as const), value: structuredVal }),
  fc.record({ t: fc.constant('big' as const), big: bigVal }),
  fc.record({ t: fc.constant('nested' as const), n: fc.integer({ min: 100, max: 20_000 }), kind: fc.constantFrom('array' as const, 'object' as const) }),
);

/** A form body (usually), or the same parameters as JSON, or a broken body. */
export function formBody(defs: ParamDef[]): fc.Arbitrary<BodySpec> {
  return fc.oneof(
    { arbitrary: fc.record({ t: fc.constant('form' as const), params: params(defs) }), weight: 14 },
    { arbitrary: params(defs).map((ps): BodySpec => ({ t: 'json', value: { t: 'obj', entries: ps.map((p) => [p.name, p.value]) } })), weight: 1 },
    { arbitrary: brokenBody, weight: 2 },
    { arbitrary: fc.constant<BodySpec>({ t: 'none' }), weight: 1 },
  );
}

const AUTH_SCHEMES = ['Bearer', 'bearer', 'BEARER', 'DPoP', 'Basic', 'Digest', 'Bearer  ', 'Negotiate', ''];

/** A random Authorization header, with valid credentials of the given kinds mixed in. */
export function auth(options: { clients?: RefName[]; tokens?: RefName[]; weightNone?: number }): fc.Arbitrary<AuthSpec> {
  const { clients = [], tokens = [], weightNone = 3 } = options;
  const arbs: Array<fc.WeightedArbitrary<AuthSpec>> = [
    { arbitrary: fc.constant<AuthSpec>({ t: 'none' }), weight: weightNone },
    {
      arbitrary: fc.record({
        t: fc.constant('basic' as const),
        id: paramVal(clients.length ? clients : ['client_id']),
        secret: paramVal(['client_secret']),
        urlencode: fc.boolean(),
      }),
      weight: 2,
    },
    { arbitrary: fc.record({ t: fc.constant('basic-garbage' as const), text: smallString, base64: fc.boolean() }), weight: 1 },
    {
      arbitrary: fc.record({ t: fc.constant('bearer' as const), token: paramVal(tokens.length ? tokens : ['access_token']), scheme: fc.constantFrom(...AUTH_SCHEMES) }),
      weight: tokens.length ? 6 : 1,
    },
    { arbitrary: fc.record({ t: fc.constant('raw' as const), text: fc.oneof(smallString, fc.constantFrom('Basic', 'Bearer', 'Basic =', 'Basic Og==', 'Basic OjpA', 'Bearer a b', ',', 'Basic %')) }), weight: 1 },
  ];
  if (clients.length) {
    arbs.push({ arbitrary: fc.record({ t: fc.constant('basic-valid' as const), client: fc.constantFrom(...clients), slot: fc.nat(7) }), weight: 8 });
  }
  return fc.oneof(...arbs);
}

export const cookie = (options: { interaction?: boolean; session?: boolean }): fc.Arbitrary<CookieSpec> => {
  const arbs: Array<fc.WeightedArbitrary<CookieSpec>> = [
    { arbitrary: fc.constant<CookieSpec>({ t: 'none' }), weight: 4 },
    {
      arbitrary: fc.record({
        t: fc.constant('garbage' as const),
        text: fc.oneof(
          smallString,
          fc.constantFrom('latchkey.session=x', 'latchkey.session=x; latchkey.session.sig=y', 'latchkey.interaction=%zz', '=;=;;', 'a=b; a=c', '__proto__=1'),
        ),
      }),
      weight: 1,
    },
  ];
  if (options.interaction) arbs.push({ arbitrary: fc.record({ t: fc.constant('interaction' as const), slot: fc.nat(7), tamper: fc.boolean() }), weight: 6 });
  if (options.session) arbs.push({ arbitrary: fc.record({ t: fc.constant('session' as const), slot: fc.nat(7), tamper: fc.boolean() }), weight: 6 });
  return fc.oneof(...arbs);
};

const ACCEPTS = ['*/*', 'application/json', 'text/html', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'application/jwt', 'text/plain', 'image/png', '', ';q=x'];

export const accept: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 6 },
  { arbitrary: fc.constantFrom(...ACCEPTS), weight: 3 },
  { arbitrary: smallString, weight: 1 },
);

const HEADER_NAMES = ['origin', 'origin', 'sec-fetch-site', 'dpop', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'host', 'referer', 'accept-language', 'accept-charset', 'content-encoding', 'x-http-method-override', 'if-none-match', 'range'];
// `{issuer}`: this server's own origin.
const HEADER_VALUES = ['{issuer}', 'same-origin', 'cross-site', 'http://127.0.0.1:9999', 'null', 'https://evil.example', 'evil.example', 'https', '127.0.0.1, 10.0.0.1', '', 'gzip', 'br', 'DELETE', 'bytes=0-1', '*', 'eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.', '[::1', 'a:b:c'];

export const headers: fc.Arbitrary<Array<[string, string]>> = fc.oneof(
  { arbitrary: fc.constant([] as Array<[string, string]>), weight: 6 },
  { arbitrary: fc.array(fc.tuple(fc.constantFrom(...HEADER_NAMES), fc.oneof(fc.constantFrom(...HEADER_VALUES), smallString)), { minLength: 1, maxLength: 2 }), weight: 1 },
);

export const chunked = fc.oneof({ arbitrary: fc.constant(false), weight: 10 }, { arbitrary: fc.constant(true), weight: 1 });

/** Fills in the parts most targets leave random. */
export function request(
  target: Target,
  parts: {
    method: fc.Arbitrary<string>;
    path: fc.Arbitrary<PathSpec>;
    query?: fc.Arbitrary<Param[]>;
    body?: fc.Arbitrary<BodySpec>;
    auth?: fc.Arbitrary<AuthSpec>;
    cookie?: fc.Arbitrary<CookieSpec>;
  },
): fc.Arbitrary<RequestSpec> {
  return fc.record({
    target: fc.constant(target),
    method: parts.method,
    path: parts.path,
    query: parts.query ?? fc.oneof({ arbitrary: fc.constant([] as Param[]), weight: 4 }, { arbitrary: params([{ name: 'x' }]), weight: 1 }),
    body: parts.body ?? fc.oneof({ arbitrary: fc.constant<BodySpec>({ t: 'none' }), weight: 6 }, { arbitrary: brokenBody, weight: 1 }),
    contentType,
    auth: parts.auth ?? auth({}),
    cookie: parts.cookie ?? cookie({}),
    accept,
    headers,
    chunked,
  });
}

export const fixed = (...paths: string[]): fc.Arbitrary<PathSpec> => fc.constantFrom(...paths).map((path): PathSpec => ({ t: 'fixed', path }));

// --- values several targets use ----------------------------------------------------------

export const CLIENT_REFS: RefName[] = ['client_id', 'public_client_id', 'service_client_id', 'rs_client_id', 'dyn_client_id'];
export const TOKEN_REFS: RefName[] = ['access_token', 'refresh_token', 'client_credentials_token', 'userinfo_token', 'id_token', 'code', 'registration_access_token', 'initial_access_token'];
export const SCOPES = ['openid', 'openid contacts:read', 'contacts:read', 'contacts:write', 'calendar:read', 'openid offline_access contacts:read', 'profile email', 'openid nope:scope'];
export const JWTS = [
  // alg none, header only, broken JSON, a JWT with an `iss`/`sub` of a real-looking client
  'eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4Iiwic3ViIjoieCIsImF1ZCI6IngiLCJleHAiOjk5OTk5OTk5OTl9.',
  'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln',
  'eyJhbGciOiJSUzI1NiJ9.e30',
  'e30.e30.e30',
  'eyJ.eyJ.eyJ',
  'eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLy4uL2V0Yy9wYXNzd2QifQ.e30.c2ln',
  'eyJhbGciOiJIUzI1NiIsImNyaXQiOlsieCJdfQ.e30.c2ln',
];
