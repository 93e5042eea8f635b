// T12 audience-bound tokens, one audience per access token (RFC 8707 §2; RFC 9700 §2.3,
// §4.10.2; ASVS 10.3.1; RFC 9068 §3).
//
// - With `resource=RS1` the opaque access token introspects with `aud` = RS1 as a single string.
// - A JWT access token from a grant that covers two resource servers carries `aud` = the one
//   requested resource, as a string (never an array naming both).
// - Two `resource` values at the token endpoint: `400 invalid_target` (decision in the brief). A
//   token request that names no resource for a grant covering two resource servers either picks
//   exactly one audience or is `invalid_target`: never a token for both.
// - An unknown resource, or one the client may not use: at the authorization endpoint `303` to the
//   registered URI with `error=invalid_target`; at the token endpoint (code exchange and
//   client_credentials) `400 invalid_target`.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CALENDAR, CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { UserAgent } from '../helpers/user-agent.ts';
import { authParams, introspect, obtainCode, postForm, redeemCode, send, target } from './support.ts';

const JWT_API = 'https://jwt.api.test';
const UNKNOWN = 'https://unknown.api.test';

describe.each(STORES)('T12 audience-bound tokens (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let both: { id: string; secret: string };
  const agent = new UserAgent();

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    await h.management.resources.add({ id: JWT_API, name: 'JWT API', tokenFormat: 'jwt', scopes: [{ scope: 'jwt:read', description: 'Read' }] });
    await h.app.catalog.reload();
    const created = await h.management.clients.add({
      name: 'Two APIs',
      redirectUris: [REDIRECT],
      scope: 'openid contacts:read jwt:read',
      resources: [CONTACTS, JWT_API],
    });
    both = { id: created.clientId, secret: created.clientSecret as string };
  });
  afterAll(async () => h?.close());

  const reader = () => ({ id: f.reader.clientId, secret: f.reader.clientSecret });
  const rs1 = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });

  /** A code from the signed-in agent (consent given on first use). */
  const code = (clientId: string, scope: string, extra: Record<string, string> = {}) =>
    obtainCode(h, f.user, { clientId, redirectUri: REDIRECT, scope, extra }, agent);

  it('resource=RS1: the opaque access token introspects with aud = RS1, a single string', async () => {
    const issued = await code(f.reader.clientId, 'openid contacts:read', { resource: CONTACTS });
    const tokens = await redeemCode(h, reader(), { code: issued.code, code_verifier: issued.verifier, redirect_uri: REDIRECT, resource: CONTACTS });
    expect(tokens.status).toBe(200);
    const info = (await introspect(h, rs1(), tokens.json<{ access_token: string }>().access_token)).json();
    expect(info).toMatchObject({ active: true, scope: 'contacts:read' });
    expect(info.aud).toBe(CONTACTS);
  });

  it('a grant covering two resource servers still yields JWT access tokens with exactly one audience', async () => {
    const issued = await code(both.id, 'openid contacts:read jwt:read');
    const tokens = await redeemCode(h, both, { code: issued.code, code_verifier: issued.verifier, redirect_uri: REDIRECT, resource: JWT_API });
    expect(tokens.status).toBe(200);
    const accessToken = tokens.json<{ access_token: string }>().access_token;
    expect(decodeProtectedHeader(accessToken).typ).toBe('at+jwt');
    const claims = decodeJwt(accessToken);
    expect(claims.aud).toBe(JWT_API);
    expect(claims.scope).toBe('jwt:read');
  });

  it('two resource values at the token endpoint: 400 invalid_target', async () => {
    const issued = await code(both.id, 'openid contacts:read jwt:read');
    const body = new URLSearchParams({ grant_type: 'authorization_code', code: issued.code, code_verifier: issued.verifier, redirect_uri: REDIRECT });
    body.append('resource', CONTACTS);
    body.append('resource', JWT_API);
    const answer = await postForm(h.url('/token'), body, { auth: both });
    expect(answer.status).toBe(400);
    expect(answer.json().error).toBe('invalid_target');
    expect(answer.json().access_token).toBeUndefined();
  });

  it('no resource named for a two-resource grant: one audience or invalid_target, never both', async () => {
    const issued = await code(both.id, 'openid contacts:read jwt:read');
    const answer = await redeemCode(h, both, { code: issued.code, code_verifier: issued.verifier, redirect_uri: REDIRECT });
    if (answer.status === 400) {
      expect(answer.json().error).toBe('invalid_target');
      return;
    }
    expect(answer.status).toBe(200);
    const accessToken = answer.json<{ access_token: string }>().access_token;
    const aud = accessToken.split('.').length === 3 ? decodeJwt(accessToken).aud : (await introspect(h, rs1(), accessToken)).json().aud;
    expect(typeof aud).toBe('string');
  });

  it('an unknown or not-allowed resource at the authorization endpoint: redirect with invalid_target', async () => {
    for (const [label, clientId, scope, resource] of [
      ['unknown resource', f.reader.clientId, 'openid contacts:read', UNKNOWN],
      ['resource the client may not use', f.reader.clientId, 'openid', CALENDAR],
      ['resource the client may not use, with its scope', f.reader.clientId, 'openid calendar:read', CALENDAR],
    ] as const) {
      const { params, state } = authParams(clientId, REDIRECT, scope, { resource });
      const response = await send(h.url(`/auth?${params}`));
      expect(response.status, label).toBe(303);
      expect(target(response.location as string), label).toBe(REDIRECT);
      const answer = new URL(response.location as string).searchParams;
      expect(answer.get('error'), label).toMatch(/^invalid_(target|scope)$/);
      if (scope === 'openid' || resource === UNKNOWN) expect(answer.get('error'), label).toBe('invalid_target');
      expect(answer.get('state'), label).toBe(state);
    }
  });

  it('an unknown or not-granted resource at the token endpoint: 400 invalid_target', async () => {
    for (const resource of [UNKNOWN, CALENDAR, 'not a uri']) {
      const issued = await code(f.reader.clientId, 'openid contacts:read');
      const answer = await redeemCode(h, reader(), { code: issued.code, code_verifier: issued.verifier, redirect_uri: REDIRECT, resource });
      expect(answer.status, resource).toBe(400);
      expect(answer.json().error, resource).toBe('invalid_target');
    }
    const service = { id: f.service.clientId, secret: f.service.clientSecret };
    for (const resource of [UNKNOWN, CALENDAR]) {
      const answer = await postForm(h.url('/token'), { grant_type: 'client_credentials', resource }, { auth: service });
      expect(answer.status, `client_credentials ${resource}`).toBe(400);
      expect(answer.json().error, `client_credentials ${resource}`).toBe('invalid_target');
    }
  });
});
