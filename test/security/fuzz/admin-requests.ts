// The admin API (docs/admin-api.md) for the fuzzer: every route of ADMIN_ROUTES (the table the
// router serves and the OpenAPI document is generated from, so a new route is fuzzed without a
// change here), its OpenAPI document and its protected-resource metadata. Requests are generated
// from scratch (any method, path ids with URL-encoded resource identifiers and hostile values,
// query parameters and JSON members from the route's own schemas with valid, hostile and wrongly
// typed values, unknown and repeated ones, broken bodies, wrong content types) and from a valid
// request per route with zero to three mutations. The Authorization header is one of: none,
// garbage, a live latchkey:admin token, a live latchkey:admin.read token (of a read-only admin
// client), a token without either scope, a revoked one, one of a removed admin client, a token
// for another audience (an API's, a user's), or an admin client's own secret as Basic.
//
// Writes never touch the records the rest of the run stands on (the fixture user, clients and
// resource servers, the admin clients): http.ts points a write at a sacrificial record of the
// same kind instead (a "victim" the live state made and re-makes).
import fc from 'fast-check';
import type { z } from 'zod';
import { ADMIN_ROUTES, type AdminRoute } from '../../../server/routes/admin/table.ts';
import { CALENDAR, CONTACTS, REDIRECT } from '../../helpers/fixtures.ts';
import { brokenBody, maybe, METHODS, request, type AuthSpec, type BodySpec, type Param, type PathSpec, type RequestSpec } from './spec.ts';
import { MARKUP_MARKER, paramVal, refVal, smallString, structuredVal, tainted, type RefName, type Val } from './values.ts';
import { applyMutations, mutationList, mutationOf, type Mutation } from './valid-requests.ts';

export const ADMIN_API_PREFIX = '/admin/v1';
export const ADMIN_METADATA_PATH = '/.well-known/oauth-protected-resource/admin';
export const ADMIN_PUBLIC_PATHS = ['/admin/openapi.json', ADMIN_METADATA_PATH];

/** The paths the admin API answers (server/routes/admin/router.ts `serves`), from the raw request path. */
export function servedByAdmin(pathname: string): boolean {
  return pathname === ADMIN_API_PREFIX || pathname.startsWith(`${ADMIN_API_PREFIX}/`) || ADMIN_PUBLIC_PATHS.includes(pathname);
}

/** Routes as the fuzzer uses them: the OpenAPI path under /admin/v1, the path parameter's name. */
export interface FuzzRoute {
  route: AdminRoute;
  method: string;
  template: string;
  param?: string;
  query: string[];
  body: string[];
  /** Members the schema requires (no default). */
  required: Set<string>;
}

function shapeOf(schema: z.ZodType | undefined): Record<string, z.ZodType> {
  return ((schema as { shape?: Record<string, z.ZodType> } | undefined)?.shape ?? {}) as Record<string, z.ZodType>;
}

export const FUZZ_ROUTES: FuzzRoute[] = ADMIN_ROUTES.map((route) => {
  const body = shapeOf(route.body);
  return {
    route,
    method: route.method.toUpperCase(),
    template: `${ADMIN_API_PREFIX}${route.path}`,
    param: Object.keys(shapeOf(route.params))[0],
    query: Object.keys(shapeOf(route.query)),
    body: Object.keys(body),
    required: new Set(Object.entries(body).filter(([, schema]) => !schema.safeParse(undefined).success).map(([name]) => name)),
  };
});

/** `/admin/v1/users/([^/]+)` for `/admin/v1/users/{id}`. */
const PATTERNS = FUZZ_ROUTES.map((r) => ({ r, pattern: new RegExp(`^${r.template.replace(/\{\w+\}/g, '([^/]+)')}/?$`) }));

/** The route a raw path and method reach (HEAD reaches GET), if any. */
export function adminRouteOf(method: string, pathname: string): FuzzRoute | undefined {
  const wanted = method === 'HEAD' ? 'GET' : method;
  return PATTERNS.find(({ r, pattern }) => r.method === wanted && pattern.test(pathname))?.r;
}

// --- values ----------------------------------------------------------------------------------

const lit = (v: string): Val => ({ t: 'lit', v });
const num = (v: number): Val => ({ t: 'num', v });
const arrOf = (items: string[]): Val => ({ t: 'arr', items: items.map(lit) });
const obj = (entries: Array<[string, Val]>): Val => ({ t: 'obj', entries });
const strings = (...values: string[]) => fc.constantFrom(...values).map(lit);
const numbers = (...values: number[]) => fc.constantFrom(...values).map(num);
const bools: fc.Arbitrary<Val> = fc.boolean().map((v): Val => ({ t: 'bool', v }));
const listsOf = (...lists: string[][]) => fc.constantFrom(...lists).map(arrOf);
const oneRef = (...refs: RefName[]) => refVal(...refs).map((v): Val => ({ t: 'arr', items: [v] }));
const uri = strings('https://app.example/x', 'javascript:alert(1)', 'http://127.0.0.1/x', 'not a uri', 'https://app.example/a b');

/** Known-good and near-good values of every JSON member a route body has, by member name. */
export const BODY_VALUES: Record<string, fc.Arbitrary<Val>> = {
  // Users
  email: fc.oneof(fc.nat(999_999).map((n) => lit(`fuzz-${n}@example.com`)), strings('Mixed.Case@Example.COM', 'not-an-email', 'a@b', ' padded@example.com '), refVal('email')),
  password: strings('correct horse battery staple', 'short', '        ', 'pässwörd long enough'),
  name: strings('Fuzz User', '', ' ', MARKUP_MARKER, 'x'.repeat(201)),
  email_verified: bools,
  disabled: bools,
  // Clients
  client_name: strings('Fuzz app', '', ' ', MARKUP_MARKER, 'x'.repeat(201)),
  redirect_uris: listsOf([REDIRECT], ['https://app.example/cb'], ['http://example.com/cb'], [], ['javascript:alert(1)'], ['com.example.app:/cb'], ['https://app.example/cb#f'], [REDIRECT, REDIRECT]),
  public: bools,
  native: bools,
  scope: strings('openid contacts:read', 'contacts:read', 'latchkey:admin', 'latchkey:admin.read', 'nope:scope', '', 'openid offline_access', 'fuzz:read'),
  resources: fc.oneof(listsOf([CONTACTS], [CALENDAR], [], ['https://unknown.example'], [CONTACTS, CONTACTS]), oneRef('admin_resource_id', 'victim_resource')),
  grant_types: listsOf(['client_credentials'], ['authorization_code', 'refresh_token'], ['authorization_code'], ['password'], [], ['refresh_token']),
  logo_uri: uri,
  client_uri: uri,
  policy_uri: uri,
  tos_uri: uri,
  admin: bools,
  dpop_bound_access_tokens: bools,
  require_pushed_authorization_requests: bools,
  verified: bools,
  // Resource servers. Never a scope the fixtures' APIs define: two APIs defining contacts:read
  // would change what the other targets' requests mean.
  id: fc.oneof(
    { arbitrary: fc.nat(999_999).map((n) => lit(`https://fuzz-${n}.api.test`)), weight: 3 },
    { arbitrary: strings('https://x.test#frag', 'not a uri', 'urn:fuzz:api', 'https://fuzz.api.test/v1?x=1', `https://${'x'.repeat(250)}.test`), weight: 2 },
    { arbitrary: refVal('resource', 'other_resource', 'admin_resource_id', 'victim_resource'), weight: 1 },
  ),
  scopes: fc.oneof(
    {
      arbitrary: fc
        .array(fc.tuple(fc.constantFrom('fuzz:read', 'fuzz:write', 'openid', 'a b', '', 'x'.repeat(129), 'fuzz:read'), maybe(fc.constantFrom('Read it', '', MARKUP_MARKER, 'x'.repeat(501)), 0.5)), { minLength: 1, maxLength: 3 })
        .map((items): Val => ({ t: 'arr', items: items.map(([scope, description]) => obj([['scope', lit(scope)], ...(description === undefined ? [] : ([['description', lit(description)]] as Array<[string, Val]>))])) })),
      weight: 5,
    },
    { arbitrary: fc.constant<Val>({ t: 'arr', items: [] }), weight: 1 },
    { arbitrary: listsOf(['fuzz:read']), weight: 1 },
  ),
  token_format: strings('opaque', 'jwt', 'bogus'),
  access_token_ttl: numbers(10, 300, 86400, 9, 86401, 0, -1, 1.5),
  max_grant_duration: numbers(60, 3600, 59, 1e12),
  dynamic_clients: bools,
  default_scope: strings('fuzz:read', 'fuzz:read fuzz:write', '', 'nope:scope', 'contacts:read'),
  may_exchange_for: fc.oneof(listsOf([CONTACTS], [CALENDAR], [], ['https://unknown.example']), oneRef('victim_resource', 'admin_resource_id')),
  status_list_ttl: numbers(1, 30, 3600, 0, 3601, 2.5),
  // Initial access tokens, keys
  ttl: numbers(60, 600, 59, 31_536_000, 31_536_001),
  signing: bools,
  cookies: bools,
};

/** Known-good and near-good values of every query parameter, by name. */
export const QUERY_VALUES: Record<string, fc.Arbitrary<Val>> = {
  email: fc.oneof(refVal('email'), strings('nobody@example.com', 'ALICE@EXAMPLE.COM')),
  limit: strings('1', '2', '100', '500', '0', '501', '-1', 'abc', '1.5', '1e2', ' 5', ''),
  after: fc.oneof(refVal('user_id', 'client_id', 'victim_user_id', 'victim_client_id'), strings('', 'zzzz', '~')),
  user: fc.oneof(refVal('email'), strings('nobody@example.com')),
  user_id: refVal('user_id', 'victim_user_id'),
  client: refVal('client_id', 'admin_client_id', 'service_client_id'),
  event: strings('client.created', 'user.created', 'consent.revoked', 'login.failed', 'keys.rotated', 'nope'),
  before: strings('1', '100', '0', '-1', '99999999999999999999', 'abc', '1.5', ''),
};

/** What a path's `{…}` may name, by parameter. Writes to the real records go to a victim instead (http.ts). */
export const PATH_REFS: Record<string, RefName[]> = {
  id: ['user_id', 'victim_user_id'],
  client_id: ['client_id', 'service_client_id', 'rs_client_id', 'dyn_client_id', 'admin_client_id', 'victim_client_id'],
  resource: ['resource', 'other_resource', 'admin_resource_id', 'victim_resource'],
  grant_id: ['victim_grant_id'],
};

/** The victim a write to `{param}` goes to when it names a record the run stands on. */
export const VICTIM_OF: Record<string, RefName> = { id: 'victim_user_id', client_id: 'victim_client_id', resource: 'victim_resource', grant_id: 'victim_grant_id' };

/** A member's value: mostly good, sometimes hostile (control characters, NUL, `%` soup, oversized), wrongly typed, or good with one bad character. */
function memberValue(good: fc.Arbitrary<Val> | undefined): fc.Arbitrary<Val> {
  if (!good) return paramVal();
  return fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: paramVal(), weight: 3 }, { arbitrary: structuredVal, weight: 1 }, { arbitrary: tainted(good), weight: 2 });
}

const UNKNOWN_MEMBERS = ['__proto__', 'constructor', 'data', 'id', 'client_secret', 'admin', 'actor', 'password_hash', 'verified'];

function jsonMembers(r: FuzzRoute): fc.Arbitrary<Val> {
  const known = fc.tuple(...r.body.map((name) => maybe(fc.tuple(fc.constant(name), memberValue(BODY_VALUES[name])), r.required.has(name) ? 0.9 : 0.35)));
  const unknown = fc.oneof(
    { arbitrary: fc.constant([] as Array<[string, Val]>), weight: 8 },
    { arbitrary: fc.array(fc.tuple(fc.oneof(smallString, fc.constantFrom(...UNKNOWN_MEMBERS)), memberValue(undefined)), { minLength: 1, maxLength: 2 }), weight: 1 },
  );
  return fc.tuple(known, unknown).map(([k, u]) => obj([...k.filter((e): e is [string, Val] => e !== undefined), ...u]));
}

function adminBody(r: FuzzRoute | undefined): fc.Arbitrary<BodySpec> {
  if (!r || r.body.length === 0) {
    return fc.oneof(
      { arbitrary: fc.constant<BodySpec>({ t: 'none' }), weight: 10 },
      { arbitrary: brokenBody, weight: 1 },
      { arbitrary: fc.constant<BodySpec>({ t: 'json', value: obj([]) }), weight: 1 },
    );
  }
  const members = jsonMembers(r);
  return fc.oneof(
    { arbitrary: members.map((value): BodySpec => ({ t: 'json', value })), weight: 14 },
    { arbitrary: fc.record({ t: fc.constant('truncated-json' as const), value: members, cut: fc.nat(60) }), weight: 1 },
    { arbitrary: members.map((v): BodySpec => ({ t: 'form', params: v.t === 'obj' ? v.entries.map(([name, value]) => ({ name, value, style: 'plain' as const })) : [] })), weight: 1 },
    { arbitrary: brokenBody, weight: 2 },
    { arbitrary: fc.constant<BodySpec>({ t: 'none' }), weight: 1 },
  );
}

const QUERY_STYLE = fc.oneof({ arbitrary: fc.constant('plain' as const), weight: 12 }, { arbitrary: fc.constant('raw' as const), weight: 2 }, { arbitrary: fc.constant('bare' as const), weight: 1 });

function adminQuery(r: FuzzRoute | undefined): fc.Arbitrary<Param[]> {
  const names = r?.query ?? [];
  const one = (name: string) => fc.record({ name: fc.constant(name), value: memberValue(QUERY_VALUES[name]), style: QUERY_STYLE });
  const known = names.length ? fc.tuple(...names.map((name) => maybe(one(name), 0.45))) : fc.constant([] as Array<Param | undefined>);
  const repeated = names.length
    ? fc.oneof({ arbitrary: fc.constant([] as Param[]), weight: 10 }, { arbitrary: fc.array(fc.constantFrom(...names).chain(one), { minLength: 1, maxLength: 2 }), weight: 1 })
    : fc.constant([] as Param[]);
  const unknown = fc.oneof(
    { arbitrary: fc.constant([] as Param[]), weight: names.length ? 10 : 6 },
    { arbitrary: fc.array(fc.record({ name: fc.oneof(smallString, fc.constantFrom('limit', 'after', 'email', 'verbose', '__proto__', 'fields', 'q')), value: paramVal(), style: QUERY_STYLE }), { minLength: 1, maxLength: 2 }), weight: 1 },
  );
  return fc.tuple(known, repeated, unknown).map(([k, rep, u]) => [...k.filter((p): p is Param => p !== undefined), ...rep, ...u]);
}

const ENCODING = fc.oneof({ arbitrary: fc.constant('plain' as const), weight: 10 }, { arbitrary: fc.constant('raw' as const), weight: 2 }, { arbitrary: fc.constant('double' as const), weight: 1 });

function pathId(param: string): fc.Arbitrary<Val> {
  const refs = PATH_REFS[param] ?? ['user_id'];
  return fc.oneof(
    { arbitrary: refVal(...refs), weight: 8 },
    { arbitrary: paramVal(), weight: 3 },
    { arbitrary: tainted(refVal(...refs)), weight: 2 },
    { arbitrary: fc.constantFrom('%', '..', '.', '%2e%2e', '%2F', 'a%00b', 'https:%2F%2Fcontacts.api.test', 'x'.repeat(2001)).map(lit), weight: 1 },
  );
}

// --- credentials -----------------------------------------------------------------------------

const OTHER_TOKENS: RefName[] = ['client_credentials_token', 'access_token', 'userinfo_token', 'refresh_token', 'id_token', 'initial_access_token', 'registration_access_token'];
const SCHEMES = ['bearer', 'BEARER', 'Bearer  ', 'DPoP', 'Basic', 'Token', ''];

const bearer = (...refs: RefName[]): fc.Arbitrary<AuthSpec> => refVal(...refs).map((token): AuthSpec => ({ t: 'bearer', token, scheme: 'Bearer' }));

/** Who the request claims to be: see the file's header. */
export const adminAuth: fc.Arbitrary<AuthSpec> = fc.oneof(
  { arbitrary: bearer('admin_token'), weight: 10 },
  { arbitrary: bearer('admin_read_token'), weight: 5 },
  { arbitrary: bearer('admin_noscope_token', 'admin_revoked_token', 'admin_removed_token'), weight: 3 },
  { arbitrary: bearer(...OTHER_TOKENS), weight: 2 },
  { arbitrary: fc.constant<AuthSpec>({ t: 'none' }), weight: 2 },
  // Garbage: an admin token with a bad byte, under another scheme, or no token at all.
  { arbitrary: fc.record({ t: fc.constant('bearer' as const), token: tainted(refVal('admin_token', 'admin_read_token')), scheme: fc.constant('Bearer') }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('bearer' as const), token: refVal('admin_token'), scheme: fc.constantFrom(...SCHEMES) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('bearer' as const), token: paramVal(), scheme: fc.constant('Bearer') }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('raw' as const), text: fc.oneof(smallString, fc.constantFrom('Bearer', 'Bearer ', 'Bearer a b', 'Bearer ====', 'Bearer a=b', ',')) }), weight: 1 },
  // The admin client's own id and secret: client authentication is not a token.
  { arbitrary: fc.record({ t: fc.constant('basic-valid' as const), client: fc.constant<RefName>('admin_client_id'), slot: fc.nat(7) }), weight: 1 },
);

// --- requests from scratch -------------------------------------------------------------------

/** The methods of the routes on the same path (GET and POST on /users), then any. */
function methodFor(r: FuzzRoute): fc.Arbitrary<string> {
  const siblings = [...new Set(FUZZ_ROUTES.filter((o) => o.template === r.template).map((o) => o.method))];
  return fc.oneof({ arbitrary: fc.constant(r.method), weight: 12 }, { arbitrary: fc.constantFrom(...siblings, 'HEAD', 'OPTIONS', 'PUT'), weight: 2 }, { arbitrary: fc.constantFrom(...METHODS), weight: 1 });
}

function routeRequest(r: FuzzRoute): fc.Arbitrary<RequestSpec> {
  const path: fc.Arbitrary<PathSpec> = r.param
    ? fc.record({ t: fc.constant('admin' as const), template: fc.constant(r.template), id: pathId(r.param), encoding: ENCODING })
    : fc.constant<PathSpec>({ t: 'admin', template: r.template });
  return request('admin', { method: methodFor(r), path, query: adminQuery(r), body: adminBody(r), auth: adminAuth });
}

/** Paths next to the routes: the public documents, and what is not there. */
const OTHER_PATHS = [
  ...ADMIN_PUBLIC_PATHS,
  ...ADMIN_PUBLIC_PATHS,
  ADMIN_API_PREFIX,
  `${ADMIN_API_PREFIX}/`,
  `${ADMIN_API_PREFIX}/users/`,
  `${ADMIN_API_PREFIX}/users/x/y`,
  `${ADMIN_API_PREFIX}/nothing`,
  `${ADMIN_API_PREFIX}/keys/rotate/now`,
  `${ADMIN_API_PREFIX}//users`,
  `${ADMIN_API_PREFIX}/Users`,
  `${ADMIN_API_PREFIX}/users%2Fx`,
  `${ADMIN_API_PREFIX}/../v1/users`,
  '/admin/v2/users',
  '/admin/openapi.json/',
  `${ADMIN_METADATA_PATH}/x`,
];

const otherPath = request('admin', {
  method: fc.oneof({ arbitrary: fc.constant('GET'), weight: 6 }, { arbitrary: fc.constantFrom(...METHODS), weight: 2 }),
  path: fc.constantFrom(...OTHER_PATHS).map((template): PathSpec => ({ t: 'admin', template })),
  query: adminQuery(undefined),
  body: adminBody(undefined),
  auth: adminAuth,
});

/** Per route: writes that cost the most (scrypt for a user's password, RSA for a key rotation) less often. */
function routeWeight(r: FuzzRoute): number {
  if (r.route.operationId === 'rotateKeys') return 1;
  if (r.route.operationId === 'createUser') return 3;
  return 4;
}

export const randomAdminRequest: fc.Arbitrary<RequestSpec> = fc.oneof(
  ...FUZZ_ROUTES.map((r) => ({ arbitrary: routeRequest(r), weight: routeWeight(r) })),
  { arbitrary: otherPath, weight: 8 },
);

// --- valid requests, mutated -----------------------------------------------------------------

const ref = (name: RefName, slot = 0): Val => ({ t: 'ref', ref: name, slot });
const p = (name: string, value: Val): Param => ({ name, value, style: 'plain' });

function valid(r: FuzzRoute, parts: { id?: Val; query?: Param[]; body?: Array<[string, Val]>; read?: boolean; slot: number }): RequestSpec {
  return {
    target: 'admin',
    method: r.method,
    path: { t: 'admin', template: r.template, ...(parts.id ? { id: parts.id, encoding: 'plain' as const } : {}) },
    query: parts.query ?? [],
    body: parts.body ? { t: 'json', value: obj(parts.body) } : { t: 'none' },
    contentType: 'auto',
    auth: { t: 'bearer', token: ref(parts.read ? 'admin_read_token' : 'admin_token', parts.slot), scheme: 'Bearer' },
    cookie: { t: 'none' },
    accept: undefined,
    headers: [],
    chunked: false,
  };
}

type Template = (r: FuzzRoute, slot: number, n: number) => RequestSpec;

const pick = <T>(list: T[], slot: number): T => list[slot % list.length] as T;
const bool = (v: boolean): Val => ({ t: 'bool', v });

/** A valid request for each route, by operationId; `slot` picks a variant, `n` makes names unique. */
const VALID: Record<string, Template> = {
  listUsers: (r, slot) => valid(r, { slot, read: slot % 2 === 0, query: pick([[], [p('limit', lit('1'))], [p('email', ref('email'))], [p('limit', lit('2')), p('after', ref('user_id'))]], slot) }),
  createUser: (r, slot, n) => valid(r, { slot, body: [['email', lit(`fuzz-valid-${n}@example.com`)], ['password', lit('correct horse battery staple')], ...(slot % 2 ? ([['name', lit('Fuzz Valid')], ['email_verified', bool(true)]] as Array<[string, Val]>) : [])] }),
  getUser: (r, slot) => valid(r, { slot, read: slot % 2 === 0, id: ref(slot % 3 ? 'user_id' : 'victim_user_id', slot) }),
  updateUser: (r, slot) => valid(r, { slot, id: ref('victim_user_id', slot), body: [['disabled', bool(slot % 2 === 0)]] }),
  listClients: (r, slot) => valid(r, { slot, read: slot % 2 === 0, query: pick([[], [p('limit', lit('3'))], [p('limit', lit('2')), p('after', ref('client_id', slot))]], slot) }),
  createClient: (r, slot, n) =>
    valid(r, {
      slot,
      body: [
        ['client_name', lit(`Fuzz client ${n}`)],
        ...pick<Array<[string, Val]>>(
          [
            [['redirect_uris', arrOf([REDIRECT])], ['scope', lit('openid contacts:read')], ['resources', arrOf([CONTACTS])]],
            [['admin', bool(true)]],
            [['admin', bool(true)], ['scope', lit('latchkey:admin.read')]],
            [['grant_types', arrOf(['client_credentials'])], ['scope', lit('contacts:read')], ['resources', arrOf([CONTACTS])]],
            [['public', bool(true)], ['redirect_uris', arrOf([REDIRECT])], ['dpop_bound_access_tokens', bool(true)]],
            [['redirect_uris', arrOf(['https://app.example/cb'])], ['logo_uri', lit('https://app.example/logo.png')], ['require_pushed_authorization_requests', bool(true)]],
          ],
          slot,
        ),
      ],
    }),
  getClient: (r, slot) => valid(r, { slot, read: slot % 2 === 0, id: ref(pick<RefName>(PATH_REFS.client_id as RefName[], slot), slot) }),
  updateClient: (r, slot) => valid(r, { slot, id: ref('victim_client_id', slot), body: [['verified', bool(slot % 2 === 1)]] }),
  deleteClient: (r, slot) => valid(r, { slot, id: ref('victim_client_id', slot) }),
  listResources: (r, slot) => valid(r, { slot, read: slot % 2 === 0 }),
  createResource: (r, slot, n) =>
    valid(r, {
      slot,
      body: [
        ['id', lit(`https://fuzz-valid-${n}.api.test${slot % 2 ? '/v1' : ''}`)],
        ['name', lit(`Fuzz API ${n}`)],
        ['scopes', { t: 'arr', items: [obj([['scope', lit('fuzz:read')], ['description', lit('Read fuzz')]]), obj([['scope', lit('fuzz:write')]])] }],
        ...(slot % 2 ? ([['token_format', lit('jwt')], ['default_scope', lit('fuzz:read')]] as Array<[string, Val]>) : []),
        ...(slot % 3 === 0 ? ([['may_exchange_for', arrOf([CONTACTS])], ['status_list_ttl', num(60)], ['dynamic_clients', bool(true)]] as Array<[string, Val]>) : []),
      ],
    }),
  getResource: (r, slot) => valid(r, { slot, read: slot % 2 === 0, id: ref(pick<RefName>(PATH_REFS.resource as RefName[], slot), slot) }),
  updateResource: (r, slot) =>
    valid(r, {
      slot,
      id: ref('victim_resource', slot),
      body: pick<Array<[string, Val]>>([[['dynamic_clients', bool(true)]], [['default_scope', lit('fuzz:read')]], [['may_exchange_for', arrOf([CONTACTS])]], [['status_list_ttl', num(120)], ['dynamic_clients', bool(false)]]], slot),
    }),
  deleteResource: (r, slot) => valid(r, { slot, id: ref('victim_resource', slot) }),
  listGrants: (r, slot) => valid(r, { slot, read: slot % 2 === 0, query: [slot % 2 ? p('user_id', ref('user_id')) : p('user', ref('email'))] }),
  revokeGrant: (r, slot) => valid(r, { slot, id: ref('victim_grant_id', slot) }),
  createInitialAccessToken: (r, slot) => valid(r, { slot, body: slot % 2 ? [['ttl', num(600)]] : [] }),
  listKeys: (r, slot) => valid(r, { slot, read: slot % 2 === 0 }),
  rotateKeys: (r, slot) => valid(r, { slot, body: pick<Array<[string, Val]>>([[['cookies', bool(false)]], [['signing', bool(false)]], []], slot) }),
  listAuditEvents: (r, slot) =>
    valid(r, {
      slot,
      read: slot % 2 === 0,
      query: pick([[], [p('limit', lit('5'))], [p('event', lit('client.created'))], [p('client', ref('admin_client_id'))], [p('user', ref('email')), p('limit', lit('2'))], [p('before', lit('50'))]], slot),
    }),
};

/** Replacement path ids for the mutation that changes one. */
const anyPathId = fc.oneof(...Object.keys(PATH_REFS).map((param) => pathId(param)));

const adminMutation = mutationOf(adminAuth, [{ arbitrary: fc.record({ m: fc.constant('path-id' as const), id: anyPathId, encoding: ENCODING }), weight: 3 }]);

export const mutatedAdminRequest: fc.Arbitrary<RequestSpec> = fc
  .tuple(
    fc.oneof(...FUZZ_ROUTES.map((r) => ({ arbitrary: fc.constant(r), weight: routeWeight(r) }))),
    fc.nat(7),
    fc.nat(999_999),
    mutationList(adminMutation),
  )
  .map(([r, slot, n, list]: [FuzzRoute, number, number, Mutation[]]) => {
    const template = VALID[r.route.operationId];
    if (!template) throw new Error(`no valid admin request for ${r.route.operationId}: add one to VALID in admin-requests.ts`);
    return applyMutations(template(r, slot, n), list);
  });

/** One admin API case: from a valid request (to get past authentication and validation) or from scratch. */
export const adminRequest: fc.Arbitrary<RequestSpec> = fc.oneof({ arbitrary: mutatedAdminRequest, weight: 3 }, { arbitrary: randomAdminRequest, weight: 2 });

/** Every route has a valid request and every member and query parameter known-good values (fuzz.test.ts checks). */
export function adminCoverageGaps(): string[] {
  const gaps: string[] = [];
  for (const r of FUZZ_ROUTES) {
    if (!VALID[r.route.operationId]) gaps.push(`${r.route.operationId}: no valid request`);
    for (const name of r.body) if (!BODY_VALUES[name]) gaps.push(`${r.route.operationId}: no values for body member ${name}`);
    for (const name of r.query) if (!QUERY_VALUES[name]) gaps.push(`${r.route.operationId}: no values for query parameter ${name}`);
    if (r.param && !PATH_REFS[r.param]) gaps.push(`${r.route.operationId}: no references for path parameter ${r.param}`);
  }
  return gaps;
}
