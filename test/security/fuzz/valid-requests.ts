// Valid requests with a few mutations. Purely random requests rarely get past client
// authentication or the first parameter check; these start from a request that works (a real
// client with its secret, a live code with its PKCE verifier, a live token, an interaction with
// its cookie and CSRF value) and break zero to three things in it: drop, replace, repeat or
// re-encode a parameter, swap one valid value for another kind (a refresh token where a code
// goes), change the content type, the credentials, the method, a header, the cookie. Shrinking
// removes mutations first, so a failure shrinks towards "the valid request plus the one change
// that breaks the server".
import fc from 'fast-check';
import {
  accept as anyAccept,
  auth as anyAuth,
  brokenBody,
  contentType as anyContentType,
  cookie as anyCookie,
  headers as anyHeaders,
  METHODS,
  STYLE,
  type AuthSpec,
  type BodySpec,
  type CookieSpec,
  type Param,
  type RequestSpec,
  type Target,
} from './spec.ts';
import { paramVal, smallString, type RefName, type Val } from './values.ts';

const ALL_REFS: RefName[] = [
  'client_id', 'public_client_id', 'service_client_id', 'rs_client_id', 'dyn_client_id', 'redirect_uri', 'other_redirect_uri', 'resource',
  'other_resource', 'scope', 'code_challenge', 'code_verifier', 'code', 'access_token', 'refresh_token', 'id_token', 'client_credentials_token',
  'userinfo_token', 'initial_access_token', 'registration_access_token', 'interaction_uid', 'csrf', 'logout_xsrf', 'email', 'password', 'issuer',
];

export type Mutation =
  | { m: 'drop'; i: number }
  | { m: 'set'; i: number; value: Val }
  | { m: 'dup'; i: number; value: Val }
  | { m: 'add'; param: Param }
  | { m: 'style'; i: number; style: Param['style'] }
  | { m: 'content-type'; contentType: string }
  | { m: 'body'; body: BodySpec }
  | { m: 'auth'; auth: AuthSpec }
  | { m: 'method'; method: string }
  | { m: 'header'; headers: Array<[string, string]> }
  | { m: 'accept'; accept: string | undefined }
  | { m: 'cookie'; cookie: CookieSpec }
  | { m: 'chunked' }
  /** The admin API: another value (and encoding) for the path's `{id}`. */
  | { m: 'path-id'; id: Val; encoding: 'plain' | 'raw' | 'double' };

const index = fc.nat(15);
/** Hostile values, and valid values of every kind (type confusion: a refresh token where a code goes). */
const anyValue = paramVal(ALL_REFS);

const AUTH_MUTATION = anyAuth({ clients: ['client_id', 'rs_client_id', 'public_client_id', 'service_client_id'], tokens: ['access_token', 'initial_access_token', 'registration_access_token'] });

/** One mutation; `authorization` draws the replacement credentials, `extra` adds kinds of mutation (the admin API's). */
export function mutationOf(authorization: fc.Arbitrary<AuthSpec>, extra: Array<fc.WeightedArbitrary<Mutation>> = []): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { arbitrary: fc.record({ m: fc.constant('drop' as const), i: index }), weight: 4 },
    { arbitrary: fc.record({ m: fc.constant('set' as const), i: index, value: anyValue }), weight: 8 },
    { arbitrary: fc.record({ m: fc.constant('dup' as const), i: index, value: anyValue }), weight: 2 },
    { arbitrary: fc.record({ m: fc.constant('add' as const), param: fc.record({ name: fc.oneof(smallString, fc.constantFrom('client_id', 'client_secret', 'scope', 'resource', 'redirect_uri', 'code', 'token', 'request', 'claims', '__proto__')), value: anyValue, style: STYLE }) }), weight: 2 },
    { arbitrary: fc.record({ m: fc.constant('style' as const), i: index, style: STYLE }), weight: 1 },
    { arbitrary: fc.record({ m: fc.constant('content-type' as const), contentType: anyContentType }), weight: 1 },
    { arbitrary: fc.record({ m: fc.constant('body' as const), body: brokenBody }), weight: 1 },
    { arbitrary: fc.record({ m: fc.constant('auth' as const), auth: authorization }), weight: 3 },
    { arbitrary: fc.record({ m: fc.constant('method' as const), method: fc.constantFrom(...METHODS) }), weight: 1 },
    { arbitrary: fc.record({ m: fc.constant('header' as const), headers: anyHeaders }), weight: 1 },
    { arbitrary: fc.record({ m: fc.constant('accept' as const), accept: anyAccept }), weight: 1 },
    { arbitrary: fc.record({ m: fc.constant('cookie' as const), cookie: anyCookie({ interaction: true, session: true }) }), weight: 1 },
    { arbitrary: fc.constant<Mutation>({ m: 'chunked' }), weight: 1 },
    ...extra,
  );
}

const mutation = mutationOf(AUTH_MUTATION);

/** 0 to 3 mutations; one most often. */
export function mutationList(one: fc.Arbitrary<Mutation>): fc.Arbitrary<Mutation[]> {
  return fc.oneof(
    { arbitrary: fc.constant([] as Mutation[]), weight: 1 },
    { arbitrary: fc.array(one, { minLength: 1, maxLength: 1 }), weight: 4 },
    { arbitrary: fc.array(one, { minLength: 2, maxLength: 3 }), weight: 3 },
  );
}

const mutations = mutationList(mutation);

/**
 * The parameters a mutation acts on: the form body's when there is one, the query's otherwise;
 * for the admin API, the members of its JSON body.
 */
function paramsOf(spec: RequestSpec): Param[] {
  if (spec.target === 'admin' && spec.body.t === 'json' && spec.body.value.t === 'obj') {
    return spec.body.value.entries.map(([name, value]) => ({ name, value, style: 'plain' }));
  }
  return spec.body.t === 'form' ? spec.body.params : spec.query;
}

function withParams(spec: RequestSpec, params: Param[]): RequestSpec {
  if (spec.target === 'admin' && spec.body.t === 'json' && spec.body.value.t === 'obj') {
    return { ...spec, body: { t: 'json', value: { t: 'obj', entries: params.map((p): [string, Val] => [p.name, p.value]) } } };
  }
  return spec.body.t === 'form' ? { ...spec, body: { t: 'form', params } } : { ...spec, query: params };
}

export function applyMutations(template: RequestSpec, list: Mutation[]): RequestSpec {
  let spec: RequestSpec = { ...template, query: [...template.query], headers: [...template.headers] };
  for (const mutation of list) {
    const params = [...paramsOf(spec)];
    const at = params.length ? (('i' in mutation ? mutation.i : 0) % params.length) : -1;
    const target = at >= 0 ? params[at] : undefined;
    switch (mutation.m) {
      case 'drop':
        if (target) params.splice(at, 1);
        spec = withParams(spec, params);
        break;
      case 'set':
        if (target) params[at] = { ...target, value: mutation.value };
        spec = withParams(spec, params);
        break;
      case 'dup':
        if (target) params.push({ ...target, value: mutation.value });
        spec = withParams(spec, params);
        break;
      case 'add':
        spec = withParams(spec, [...params, mutation.param]);
        break;
      case 'style':
        if (target) params[at] = { ...target, style: mutation.style };
        spec = withParams(spec, params);
        break;
      case 'content-type':
        spec = { ...spec, contentType: mutation.contentType };
        break;
      case 'body':
        spec = { ...spec, body: mutation.body };
        break;
      case 'auth':
        spec = { ...spec, auth: mutation.auth };
        break;
      case 'method':
        spec = { ...spec, method: mutation.method };
        break;
      case 'header':
        spec = { ...spec, headers: [...spec.headers, ...mutation.headers] };
        break;
      case 'accept':
        spec = { ...spec, accept: mutation.accept };
        break;
      case 'cookie':
        spec = { ...spec, cookie: mutation.cookie };
        break;
      case 'chunked':
        spec = { ...spec, chunked: true };
        break;
      case 'path-id':
        if (spec.path.t === 'admin' && spec.path.id) spec = { ...spec, path: { ...spec.path, id: mutation.id, encoding: mutation.encoding } };
        break;
    }
  }
  return spec;
}

// --- valid requests --------------------------------------------------------------------------

const lit = (v: string): Val => ({ t: 'lit', v });
const ref = (name: RefName, slot = 0): Val => ({ t: 'ref', ref: name, slot });
const p = (name: string, value: Val): Param => ({ name, value, style: 'plain' });

function valid(target: Target, method: string, path: RequestSpec['path'], parts: Partial<RequestSpec>): RequestSpec {
  return {
    target,
    method,
    path,
    query: [],
    body: { t: 'none' },
    contentType: 'auto',
    auth: { t: 'none' },
    cookie: { t: 'none' },
    accept: undefined,
    headers: [],
    chunked: false,
    ...parts,
  };
}

const form = (...params: Param[]): BodySpec => ({ t: 'form', params });
const json = (entries: Array<[string, Val]>): BodySpec => ({ t: 'json', value: { t: 'obj', entries } });
const basicValid = (client: RefName, slot = 0): AuthSpec => ({ t: 'basic-valid', client, slot });
const bearer = (token: RefName, slot = 0): AuthSpec => ({ t: 'bearer', token: ref(token, slot), scheme: 'Bearer' });
const arr = (...items: string[]): Val => ({ t: 'arr', items: items.map(lit) });

/** A valid request of each kind; `slot` picks which live interaction, token or session it uses. */
export const templates: Array<(slot: number) => RequestSpec> = [
  // Authorization request of the reader client (a session cookie sometimes: a code comes back at once).
  (slot) =>
    valid('authorize', 'GET', { t: 'fixed', path: '/auth' }, {
      query: [
        p('client_id', ref('client_id', 0)),
        p('response_type', lit('code')),
        p('redirect_uri', ref('redirect_uri')),
        p('scope', ref('scope', slot)),
        p('state', lit(`s${slot}`)),
        p('code_challenge', ref('code_challenge')),
        p('code_challenge_method', lit('S256')),
        ...(slot % 2 ? [p('resource', ref('resource'))] : []),
      ],
      cookie: slot % 3 === 0 ? { t: 'session', slot, tamper: false } : { t: 'none' },
    }),
  // Public client, POST form variant of the authorization endpoint.
  (slot) =>
    valid('authorize', 'POST', { t: 'fixed', path: '/auth' }, {
      body: form(
        p('client_id', ref('public_client_id')),
        p('response_type', lit('code')),
        p('redirect_uri', ref('redirect_uri')),
        p('scope', lit('contacts:read')),
        p('code_challenge', ref('code_challenge')),
        p('code_challenge_method', lit('S256')),
        p('state', lit(`s${slot}`)),
      ),
    }),
  // Code redemption (codes are the reader's, bound to the fixed PKCE pair).
  (slot) =>
    valid('token', 'POST', { t: 'fixed', path: '/token' }, {
      body: form(p('grant_type', lit('authorization_code')), p('code', ref('code', slot)), p('redirect_uri', ref('redirect_uri')), p('code_verifier', ref('code_verifier'))),
      auth: basicValid('client_id', 0),
    }),
  // Refresh, and client_secret_post instead of Basic.
  (slot) =>
    valid('token', 'POST', { t: 'fixed', path: '/token' }, {
      body: form(
        p('grant_type', lit('refresh_token')),
        p('refresh_token', ref('refresh_token', slot)),
        // The live refresh tokens are the editor's (slot 1 of the confidential clients).
        ...(slot % 2 ? [p('client_id', ref('client_id', 1)), p('client_secret', ref('client_secret', 1))] : []),
        ...(slot % 3 === 0 ? [p('scope', lit('contacts:read'))] : []),
      ),
      auth: slot % 2 ? { t: 'none' } : basicValid('client_id', 1),
    }),
  (slot) =>
    valid('token', 'POST', { t: 'fixed', path: '/token' }, {
      body: form(p('grant_type', lit('client_credentials')), p('scope', lit('contacts:read')), ...(slot % 2 ? [p('resource', ref('resource'))] : [])),
      auth: basicValid('service_client_id'),
    }),
  // Introspection by the contacts API; revocation by the reader.
  (slot) =>
    valid('introspection', 'POST', { t: 'fixed', path: '/token/introspection' }, {
      body: form(p('token', ref((['access_token', 'refresh_token', 'client_credentials_token'] as const)[slot % 3] ?? 'access_token', slot)), ...(slot % 2 ? [p('token_type_hint', lit('access_token'))] : [])),
      auth: basicValid('rs_client_id', 0),
    }),
  (slot) =>
    valid('revocation', 'POST', { t: 'fixed', path: '/token/revocation' }, {
      body: form(p('token', ref(slot % 2 ? 'access_token' : 'refresh_token', slot)), ...(slot % 3 === 0 ? [p('token_type_hint', lit('refresh_token'))] : [])),
      auth: basicValid('client_id', 1),
    }),
  // Dynamic registration with the initial access token.
  (slot) =>
    valid('registration', 'POST', { t: 'fixed', path: '/reg' }, {
      body: json([
        ['client_name', lit(`Fuzz app ${slot}`)],
        ['redirect_uris', arr(slot % 2 ? 'https://app.example/cb' : 'http://127.0.0.1:9999/cb')],
        ...(slot % 3 === 0 ? ([['resource_scopes', { t: 'obj', entries: [['https://contacts.api.test', lit('contacts:read')]] }]] as Array<[string, Val]>) : []),
        ...(slot % 4 === 1 ? ([['token_endpoint_auth_method', lit('none')]] as Array<[string, Val]>) : []),
      ]),
      auth: bearer('initial_access_token'),
    }),
  // Registration management with the registration access token of the same client.
  (slot) =>
    valid('registration-management', slot % 4 === 3 ? 'DELETE' : 'GET', { t: 'reg', id: ref('dyn_client_id', slot) }, { auth: bearer('registration_access_token', slot) }),
  (slot) =>
    valid('registration-management', 'PUT', { t: 'reg', id: ref('dyn_client_id', slot) }, {
      body: json([
        ['client_id', ref('dyn_client_id', slot)],
        ['client_name', lit(`Renamed ${slot}`)],
        ['redirect_uris', arr('https://app.example/cb')],
      ]),
      auth: bearer('registration_access_token', slot),
    }),
  // Logout: the confirmation page, then the confirmation itself.
  (slot) =>
    valid('end-session', 'GET', { t: 'fixed', path: '/session/end' }, {
      query: slot % 2 ? [p('id_token_hint', ref('id_token', slot)), p('client_id', ref('client_id', 1))] : [],
      cookie: { t: 'session', slot, tamper: false },
    }),
  (slot) =>
    valid('end-session-confirm', 'POST', { t: 'fixed', path: '/session/end/confirm' }, {
      body: form(p('xsrf', ref('logout_xsrf', slot)), ...(slot % 2 ? [p('logout', lit('yes'))] : [])),
      cookie: { t: 'session', slot, tamper: false },
    }),
  (slot) => valid('userinfo', slot % 3 === 2 ? 'POST' : 'GET', { t: 'fixed', path: '/me' }, { auth: bearer('userinfo_token', slot) }),
  // Our pages: the interaction page and its three forms, with the interaction's own cookie and CSRF value.
  (slot) => valid('interaction', 'GET', { t: 'interaction', uid: ref('interaction_uid', slot), action: '' }, { cookie: { t: 'interaction', slot, tamper: false } }),
  (slot) =>
    valid('interaction', 'POST', { t: 'interaction', uid: ref('interaction_uid', slot), action: '/login' }, {
      body: form(p('csrf', ref('csrf', slot)), p('email', ref('email')), p('password', slot % 2 ? lit('wrong password') : ref('password'))),
      cookie: { t: 'interaction', slot, tamper: false },
    }),
  (slot) =>
    valid('interaction', 'POST', { t: 'interaction', uid: ref('interaction_uid', slot), action: slot % 4 === 3 ? '/abort' : '/consent' }, {
      body: form(p('csrf', ref('csrf', slot))),
      cookie: { t: 'interaction', slot, tamper: false },
    }),
  (slot) => valid('authorize', 'GET', { t: 'resume', uid: ref('interaction_uid', slot) }, { cookie: { t: 'interaction', slot, tamper: false } }),
];

/** Weights per template, in the order above. */
const WEIGHTS = [6, 1, 6, 5, 3, 4, 3, 4, 3, 2, 2, 2, 3, 3, 4, 4, 1];

export const mutatedRequest: fc.Arbitrary<RequestSpec> = fc
  .tuple(
    fc.oneof(...templates.map((template, i) => ({ arbitrary: fc.constant(template), weight: WEIGHTS[i] ?? 1 }))),
    fc.nat(7),
    mutations,
  )
  .map(([template, slot, list]) => applyMutations(template(slot), list));
