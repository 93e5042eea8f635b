// fast-check arbitraries producing HTTP requests from scratch for every endpoint: each target's
// parameters with valid, hostile (unicode, control characters, `%` soup, NUL, oversized) and
// wrongly typed values, missing, repeated and unknown parameters, wrong content types, broken
// bodies, random methods and Authorization headers. (valid-requests.ts starts from valid
// requests instead; cases.ts mixes both.)
import fc from 'fast-check';
import {
  auth,
  CLIENT_REFS,
  cookie,
  fixed,
  formBody,
  JWTS,
  method,
  METHODS,
  params,
  request,
  SCOPES,
  TOKEN_REFS,
  type BodySpec,
  type Param,
  type ParamDef,
  type PathSpec,
  type RequestSpec,
} from './spec.ts';
import { jsonBody, metadata } from './client-metadata.ts';
import { paramVal, refVal, smallString } from './values.ts';

// --- endpoint parameters ---------------------------------------------------------------------

const AUTHORIZE_PARAMS: ParamDef[] = [
  { name: 'client_id', refs: CLIENT_REFS, p: 0.9 },
  { name: 'response_type', good: ['code', 'token', 'id_token', 'code id_token', 'none', 'code token'], p: 0.85 },
  { name: 'redirect_uri', refs: ['redirect_uri', 'other_redirect_uri'], good: ['https://app.example/logged-out', 'http://127.0.0.1:9999/cb/', 'http://127.0.0.1:9998/cb'], p: 0.85 },
  { name: 'scope', refs: ['scope'], good: SCOPES, p: 0.8 },
  { name: 'state', p: 0.6 },
  { name: 'code_challenge', refs: ['code_challenge'], good: ['x', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'], p: 0.8 },
  { name: 'code_challenge_method', good: ['S256', 'plain', 's256', 'S512'], p: 0.8 },
  { name: 'resource', refs: ['resource', 'other_resource'], good: ['https://unknown.api.test', 'not a uri', 'https://contacts.api.test/#f'], p: 0.3 },
  { name: 'nonce', p: 0.2 },
  { name: 'prompt', good: ['login', 'consent', 'none', 'select_account', 'create', 'login consent', 'bogus'], p: 0.15 },
  { name: 'response_mode', good: ['query', 'fragment', 'form_post', 'jwt', 'query.jwt', 'web_message', 'bogus'], p: 0.15 },
  { name: 'max_age', good: ['0', '-1', '1e3', 'abc', '99999999999999999999'], p: 0.1 },
  { name: 'login_hint', refs: ['email'], p: 0.1 },
  { name: 'id_token_hint', refs: ['id_token'], p: 0.1 },
  { name: 'claims', good: ['{"userinfo":{"email":null}}', '{"id_token":', '[]', '{"userinfo":{"__proto__":{"essential":true}}}'], p: 0.1 },
  { name: 'request', good: JWTS, p: 0.05 },
  { name: 'request_uri', good: ['urn:ietf:params:oauth:request_uri:abc', 'https://evil.example/req'], p: 0.05 },
  { name: 'ui_locales', good: ['en', 'xx-YY', '*'], p: 0.05 },
  { name: 'acr_values', p: 0.05 },
  { name: 'authorization_details', good: ['[{"type":"x"}]', '{', '[]'], p: 0.05 },
  { name: 'dpop_jkt', p: 0.05 },
  { name: 'display', good: ['page', 'popup', 'bogus'], p: 0.05 },
];

const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:openid:params:grant-type:ciba',
  'password',
  'implicit',
];

const CLIENT_AUTH_PARAMS: ParamDef[] = [
  { name: 'client_id', refs: CLIENT_REFS, p: 0.3 },
  { name: 'client_secret', refs: ['client_secret'], p: 0.15 },
  { name: 'client_assertion', good: JWTS, p: 0.05 },
  { name: 'client_assertion_type', good: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'], p: 0.05 },
];

const tokenParams = (grantType: string | undefined, defs: ParamDef[]): ParamDef[] => [
  { name: 'grant_type', good: grantType ? [grantType] : GRANT_TYPES, p: 0.92 },
  ...defs,
  ...CLIENT_AUTH_PARAMS,
];

const TOKEN_BODIES: fc.Arbitrary<BodySpec> = fc.oneof(
  formBody(
    tokenParams('authorization_code', [
      { name: 'code', refs: ['code'], p: 0.9 },
      { name: 'redirect_uri', refs: ['redirect_uri', 'other_redirect_uri'], p: 0.8 },
      { name: 'code_verifier', refs: ['code_verifier'], good: ['x'.repeat(43), 'short', 'x'.repeat(129)], p: 0.8 },
      { name: 'resource', refs: ['resource', 'other_resource'], p: 0.2 },
      { name: 'scope', refs: ['scope'], p: 0.1 },
    ]),
  ),
  formBody(
    tokenParams('refresh_token', [
      { name: 'refresh_token', refs: ['refresh_token'], p: 0.9 },
      { name: 'scope', refs: ['scope'], good: SCOPES, p: 0.3 },
      { name: 'resource', refs: ['resource', 'other_resource'], p: 0.2 },
    ]),
  ),
  formBody(
    tokenParams('client_credentials', [
      { name: 'scope', refs: ['scope'], good: SCOPES, p: 0.7 },
      { name: 'resource', refs: ['resource', 'other_resource'], good: ['https://unknown.api.test'], p: 0.5 },
    ]),
  ),
  formBody(
    tokenParams(undefined, [
      { name: 'code', refs: ['code'] },
      { name: 'refresh_token', refs: ['refresh_token'] },
      { name: 'device_code', p: 0.2 },
      { name: 'auth_req_id', p: 0.1 },
      { name: 'subject_token', refs: ['access_token'], p: 0.2 },
      { name: 'subject_token_type', good: ['urn:ietf:params:oauth:token-type:access_token'], p: 0.2 },
      { name: 'assertion', good: JWTS, p: 0.2 },
      { name: 'username', refs: ['email'], p: 0.2 },
      { name: 'password', refs: ['password'], p: 0.2 },
      { name: 'scope', good: SCOPES, p: 0.3 },
    ]),
  ),
);

const INTROSPECTION_PARAMS: ParamDef[] = [
  { name: 'token', refs: TOKEN_REFS, p: 0.9 },
  { name: 'token_type_hint', good: ['access_token', 'refresh_token', 'client_credentials', 'id_token', 'bogus'], p: 0.4 },
  ...CLIENT_AUTH_PARAMS,
];

const uidVal = fc.oneof(
  { arbitrary: refVal('interaction_uid'), weight: 8 },
  { arbitrary: paramVal(), weight: 2 },
);

const SEGMENTS = [
  'admin', '.git', '.env', 'auth', 'token', 'reg', 'me', 'jwks', 'session', 'end', 'interaction', 'health', 'assets', 'style.css',
  '..', '.', '%2e%2e', '%2E%2e%2F', '%00', '%', '%zz', '%c0%ae', '..;', '', '~', 'index.html', 'favicon.ico', '.well-known',
  'openid-configuration', 'webfinger', 'device', 'request', 'backchannel', 'ciba', 'par', 'x'.repeat(2000), 'A%20B', '%E2%80%AE', 'ＡＢＣ',
  '__proto__', 'constructor', 'api', 'v1', 'login', 'consent', 'abort', 'confirm', 'success', 'introspection', 'revocation', 'resume',
];

// --- targets ---------------------------------------------------------------------------------

const authorize = request('authorize', {
  method: method('GET', 'GET', 'GET', 'POST'),
  path: fixed('/auth', '/auth', '/auth', '/auth/'),
  query: params(AUTHORIZE_PARAMS),
  body: fc.oneof({ arbitrary: fc.constant<BodySpec>({ t: 'none' }), weight: 3 }, { arbitrary: formBody(AUTHORIZE_PARAMS), weight: 1 }),
  cookie: cookie({ session: true }),
});

const resume = request('authorize', {
  method: method('GET'),
  path: uidVal.map((uid): PathSpec => ({ t: 'resume', uid })),
  cookie: cookie({ interaction: true, session: true }),
});

const token = request('token', {
  method: method('POST'),
  path: fixed('/token'),
  body: TOKEN_BODIES,
  auth: auth({ clients: ['client_id', 'service_client_id', 'public_client_id', 'rs_client_id', 'dyn_client_id'], tokens: ['access_token'] }),
});

const introspection = request('introspection', {
  method: method('POST'),
  path: fixed('/token/introspection'),
  body: formBody(INTROSPECTION_PARAMS),
  auth: auth({ clients: ['rs_client_id', 'client_id', 'service_client_id', 'public_client_id'] }),
});

const revocation = request('revocation', {
  method: method('POST'),
  path: fixed('/token/revocation'),
  body: formBody(INTROSPECTION_PARAMS),
  auth: auth({ clients: ['client_id', 'rs_client_id', 'service_client_id', 'public_client_id'] }),
});

const registration = request('registration', {
  method: method('POST'),
  path: fixed('/reg'),
  body: jsonBody(metadata()),
  auth: auth({ tokens: ['initial_access_token', 'registration_access_token', 'access_token'], weightNone: 1 }),
});

const regId = fc.oneof({ arbitrary: refVal('dyn_client_id'), weight: 8 }, { arbitrary: refVal('client_id', 'public_client_id'), weight: 1 }, { arbitrary: paramVal(), weight: 2 });

const registrationManagement = request('registration-management', {
  method: method('GET', 'GET', 'PUT', 'DELETE'),
  path: regId.map((id): PathSpec => ({ t: 'reg', id })),
  body: fc.oneof(
    { arbitrary: jsonBody(metadata([['client_id', refVal('dyn_client_id')]])), weight: 1 },
    { arbitrary: fc.constant<BodySpec>({ t: 'none' }), weight: 1 },
  ),
  auth: auth({ tokens: ['registration_access_token', 'initial_access_token', 'access_token'], weightNone: 1 }),
});

const END_SESSION_PARAMS: ParamDef[] = [
  { name: 'id_token_hint', refs: ['id_token'], good: JWTS, p: 0.5 },
  { name: 'post_logout_redirect_uri', refs: ['redirect_uri'], good: ['https://app.example/logged-out', 'https://evil.example/'], p: 0.4 },
  { name: 'client_id', refs: CLIENT_REFS, p: 0.4 },
  { name: 'state', p: 0.3 },
  { name: 'ui_locales', p: 0.05 },
  { name: 'logout_hint', refs: ['email'], p: 0.05 },
];

const endSession = request('end-session', {
  method: method('GET', 'GET', 'POST'),
  path: fixed('/session/end', '/session/end', '/session/end/success'),
  query: params(END_SESSION_PARAMS),
  body: fc.oneof({ arbitrary: fc.constant<BodySpec>({ t: 'none' }), weight: 2 }, { arbitrary: formBody(END_SESSION_PARAMS), weight: 1 }),
  cookie: cookie({ session: true }),
});

const endSessionConfirm = request('end-session-confirm', {
  method: method('POST'),
  path: fixed('/session/end/confirm'),
  body: formBody([
    { name: 'xsrf', refs: ['logout_xsrf'], p: 0.85 },
    { name: 'logout', good: ['yes', 'no', ''], p: 0.6 },
  ]),
  cookie: cookie({ session: true }),
});

const userinfo = request('userinfo', {
  method: method('GET', 'GET', 'POST'),
  path: fixed('/me'),
  query: fc.oneof({ arbitrary: fc.constant([] as Param[]), weight: 4 }, { arbitrary: params([{ name: 'access_token', refs: ['userinfo_token', 'access_token'] }, { name: 'scope' }]), weight: 1 }),
  body: fc.oneof({ arbitrary: fc.constant<BodySpec>({ t: 'none' }), weight: 4 }, { arbitrary: formBody([{ name: 'access_token', refs: ['userinfo_token', 'access_token', 'client_credentials_token'], p: 0.8 }]), weight: 1 }),
  auth: auth({ tokens: ['userinfo_token', 'access_token', 'client_credentials_token', 'refresh_token', 'id_token', 'registration_access_token'], weightNone: 1 }),
});

const discovery = request('discovery', {
  method: method('GET'),
  path: fixed('/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration/'),
});

const jwks = request('jwks', { method: method('GET'), path: fixed('/jwks') });

const interactionGet = request('interaction', {
  method: method('GET'),
  path: uidVal.map((uid): PathSpec => ({ t: 'interaction', uid, action: '' })),
  cookie: cookie({ interaction: true }),
});

const interactionPost = request('interaction', {
  method: method('POST'),
  path: fc.record({
    t: fc.constant('interaction' as const),
    uid: uidVal,
    action: fc.oneof({ arbitrary: fc.constantFrom('/login', '/consent', '/abort'), weight: 12 }, { arbitrary: fc.constantFrom('/other', '/', '/login/x', ''), weight: 1 }),
  }),
  body: formBody([
    { name: 'csrf', refs: ['csrf'], p: 0.85 },
    { name: 'email', refs: ['email'], good: ['nobody@example.com', 'ALICE@EXAMPLE.COM', ' alice@example.com '], p: 0.7 },
    { name: 'password', refs: ['password'], good: ['wrong'], p: 0.7 },
    { name: 'scope', good: SCOPES, p: 0.1 },
  ]),
  cookie: cookie({ interaction: true }),
});

const health = request('health', {
  method: method('GET'),
  path: fixed('/health/live', '/health/ready', '/health', '/health/', '/health/ready/'),
});

const unknown = request('unknown', {
  method: fc.constantFrom(...METHODS),
  path: fc.array(fc.oneof(fc.constantFrom(...SEGMENTS), smallString), { minLength: 0, maxLength: 4 }).map((segments): PathSpec => ({ t: 'random', segments })),
  query: fc.oneof({ arbitrary: fc.constant([] as Param[]), weight: 2 }, { arbitrary: params([{ name: 'client_id', refs: CLIENT_REFS }, { name: 'x' }]), weight: 1 }),
  cookie: cookie({ session: true, interaction: true }),
});

/** One random request against any endpoint, weighted towards the ones with the most input handling. */
export const randomRequest: fc.Arbitrary<RequestSpec> = fc.oneof(
  { arbitrary: authorize, weight: 14 },
  { arbitrary: resume, weight: 2 },
  { arbitrary: token, weight: 16 },
  { arbitrary: introspection, weight: 7 },
  { arbitrary: revocation, weight: 6 },
  { arbitrary: registration, weight: 8 },
  { arbitrary: registrationManagement, weight: 6 },
  { arbitrary: endSession, weight: 5 },
  { arbitrary: endSessionConfirm, weight: 4 },
  { arbitrary: userinfo, weight: 6 },
  { arbitrary: discovery, weight: 2 },
  { arbitrary: jwks, weight: 1 },
  { arbitrary: interactionGet, weight: 5 },
  { arbitrary: interactionPost, weight: 10 },
  { arbitrary: health, weight: 2 },
  { arbitrary: unknown, weight: 6 },
);
