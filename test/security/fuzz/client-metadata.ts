// Client metadata for dynamic registration (RFC 7591) and its management (RFC 7592): the known
// fields with valid, hostile or wrongly typed values, plus unknown ones, as a JSON body.
import fc from 'fast-check';
import { brokenBody, maybe, SCOPES, type BodySpec, type ParamDef } from './spec.ts';
import { paramVal, smallString, structuredVal, type Val } from './values.ts';

const METADATA_FIELDS: ParamDef[] = [
  { name: 'redirect_uris', p: 0.8 },
  { name: 'client_name', p: 0.4 },
  { name: 'grant_types', p: 0.3 },
  { name: 'response_types', p: 0.3 },
  { name: 'token_endpoint_auth_method', good: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt', 'client_secret_jwt', 'tls_client_auth'], p: 0.3 },
  { name: 'scope', good: SCOPES, p: 0.3 },
  { name: 'resource_scopes', p: 0.4 },
  { name: 'application_type', good: ['web', 'native', 'bogus'], p: 0.2 },
  { name: 'post_logout_redirect_uris', p: 0.15 },
  { name: 'logo_uri', good: ['https://app.example/logo.png', 'http://127.0.0.1/x', 'https://169.254.169.254/', 'file:///etc/passwd'], p: 0.1 },
  { name: 'client_uri', good: ['https://app.example/'], p: 0.1 },
  { name: 'policy_uri', good: ['https://app.example/privacy'], p: 0.05 },
  { name: 'tos_uri', good: ['https://app.example/tos'], p: 0.05 },
  { name: 'contacts', p: 0.1 },
  { name: 'jwks', p: 0.1 },
  { name: 'jwks_uri', good: ['https://127.0.0.1/jwks', 'https://jwks.invalid/keys', 'file:///etc/passwd'], p: 0.05 },
  { name: 'sector_identifier_uri', good: ['https://10.0.0.1/s', 'https://sector.invalid/s'], p: 0.05 },
  { name: 'subject_type', good: ['public', 'pairwise', 'bogus'], p: 0.1 },
  { name: 'id_token_signed_response_alg', good: ['RS256', 'none', 'HS256', 'bogus'], p: 0.1 },
  { name: 'userinfo_signed_response_alg', good: ['RS256', 'none'], p: 0.05 },
  { name: 'default_max_age', p: 0.05 },
  { name: 'require_auth_time', p: 0.05 },
  { name: 'client_secret', p: 0.05 },
  { name: 'client_secret_expires_at', p: 0.05 },
  { name: 'backchannel_logout_uri', good: ['https://app.example/bc'], p: 0.05 },
  { name: 'dpop_bound_access_tokens', p: 0.05 },
  { name: 'initiate_login_uri', good: ['https://app.example/login', 'http://localhost/login'], p: 0.05 },
  { name: 'request_uris', p: 0.05 },
];

const GOOD_METADATA_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  redirect_uris: fc.constantFrom(
    ['https://app.example/cb'],
    ['http://127.0.0.1:9999/cb'],
    ['com.example.app:/cb'],
    ['https://app.example/cb', 'https://app.example/cb'],
    [],
    ['javascript:alert(1)'],
    ['https://evil.example/cb#x'],
    ['http://evil.example/cb'],
    ['https://app.example/cb?code=1'],
  ),
  grant_types: fc.constantFrom(['authorization_code', 'refresh_token'], ['authorization_code'], ['client_credentials'], ['implicit'], ['urn:ietf:params:oauth:grant-type:device_code'], []),
  response_types: fc.constantFrom(['code'], ['token'], ['code id_token'], [], ['none']),
  resource_scopes: fc.constantFrom(
    { 'https://contacts.api.test': 'contacts:read' },
    { 'https://contacts.api.test': 'contacts:read contacts:write' },
    { 'https://unknown.example': 'x' },
    { 'https://contacts.api.test': ['contacts:read'] },
    { 'https://contacts.api.test': '' },
    { 'https://contacts.api.test': 'calendar:read' },
    {},
    [],
    'contacts:read',
  ),
  post_logout_redirect_uris: fc.constantFrom(['https://app.example/logged-out'], ['javascript:alert(1)'], 'https://app.example/'),
  contacts: fc.constantFrom(['a@example.com'], 'a@example.com', [1]),
  jwks: fc.constantFrom({ keys: [] }, { keys: [{ kty: 'RSA' }] }, { keys: 'x' }, { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] }, []),
  request_uris: fc.constantFrom(['https://app.example/req'], ['http://127.0.0.1/req']),
};

/** Client metadata: known fields with valid, hostile or wrongly typed values, as a JSON value. */
export function metadata(extra: Array<[string, fc.Arbitrary<Val>]> = []): fc.Arbitrary<Val> {
  const fields = METADATA_FIELDS.map((d) => {
    const good = GOOD_METADATA_VALUES[d.name];
    const value: fc.Arbitrary<Val> = good
      ? fc.oneof({ arbitrary: good.map(toVal), weight: 5 }, { arbitrary: paramVal([], d.good), weight: 2 })
      : paramVal([], d.good);
    return maybe(fc.tuple(fc.constant(d.name), value), d.p ?? 0.3);
  });
  const extras = extra.map(([name, value]) => maybe(fc.tuple(fc.constant(name), value), 0.85));
  const unknown = fc.oneof(
    { arbitrary: fc.constant([] as Array<[string, Val]>), weight: 6 },
    { arbitrary: fc.array(fc.tuple(fc.oneof(smallString, fc.constantFrom('__proto__', 'constructor', 'client_id', 'registration_access_token')), structuredVal), { minLength: 1, maxLength: 2 }), weight: 1 },
  );
  return fc.tuple(fc.tuple(...extras), fc.tuple(...fields), unknown).map(([e, k, u]): Val => ({
    t: 'obj',
    entries: [...e, ...k].filter((entry): entry is [string, Val] => entry !== undefined).concat(u),
  }));
}

/** A plain JSON value as a Val tree (so known-good metadata shrinks and prints like the rest). */
function toVal(v: unknown): Val {
  if (Array.isArray(v)) return { t: 'arr', items: v.map(toVal) };
  if (v && typeof v === 'object') return { t: 'obj', entries: Object.entries(v).map(([k, x]): [string, Val] => [k, toVal(x)]) };
  if (typeof v === 'number') return { t: 'num', v };
  if (typeof v === 'boolean') return { t: 'bool', v };
  if (v === null) return { t: 'null' };
  return { t: 'lit', v: String(v) };
}

export function jsonBody(value: fc.Arbitrary<Val>): fc.Arbitrary<BodySpec> {
  return fc.oneof(
    { arbitrary: value.map((v): BodySpec => ({ t: 'json', value: v })), weight: 12 },
    { arbitrary: fc.record({ t: fc.constant('truncated-json' as const), value, cut: fc.nat(60) }), weight: 1 },
    { arbitrary: value.map((v): BodySpec => ({ t: 'form', params: v.t === 'obj' ? v.entries.map(([name, x]) => ({ name, value: x, style: 'plain' as const })) : [] })), weight: 1 },
    { arbitrary: brokenBody, weight: 2 },
    { arbitrary: fc.constant<BodySpec>({ t: 'none' }), weight: 1 },
  );
}
