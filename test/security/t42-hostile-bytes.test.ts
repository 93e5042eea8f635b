// T42 malformed input, the byte classes PostgreSQL refuses: a NUL byte, a lone surrogate or
// bytes that are not UTF-8 in any value that reaches a lookup (email, client id, resource,
// grant id, audit filters). PostgreSQL rejects NUL in `text` ("invalid byte sequence for
// encoding UTF8: 0x00") where SQLite accepts it, so such a value must be "not found" at the
// storage boundary: the caller answers its usual invalid_client / wrong-credentials page, never
// a 500. Every case runs on both stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { STORES } from '../helpers/databases.ts';
import { send } from './support.ts';

/**
 * Hostile forms of a valid value. Over HTTP a form or query can carry a NUL (`%00`) but not a lone
 * surrogate (the parsers turn its bytes into U+FFFD); JSON can carry both (`"\u0000"`,
 * `"\ud800"`), and so can a caller of the services (the CLI, the admin API).
 */
const NUL_TAINTS: Array<{ name: string; form: (valid: string) => string }> = [
  { name: 'NUL at the end', form: (v) => `${v}\u0000` },
  { name: 'NUL inside', form: (v) => `${v.slice(0, 2)}\u0000${v.slice(2)}` },
];
const TAINTS = [...NUL_TAINTS, { name: 'lone surrogate', form: (v: string) => `${v}\ud800` }];
/** Percent-encoded bytes that do not decode as UTF-8 (a lone 0xFF; an overlong NUL). */
const RAW_BAD_UTF8 = ['%FF', '%C0%80', '%ED%A0%80'];

const formEncode = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe.each(STORES)('T42 hostile bytes reach no lookup (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store, env: { TRUST_PROXY: 'true' } });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  async function loginPost() {
    const agent = new UserAgent();
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const page = await agent.follow(request.url.toString(), REDIRECT);
    const action = new URL(formAction(page.body, '/login'), page.url).toString();
    const csrf = hiddenField(page.body, 'csrf');
    return { agent, action, csrf };
  }

  it.each(NUL_TAINTS)('login with an email carrying $name is a wrong-credentials page', async ({ form }) => {
    const { agent, action, csrf } = await loginPost();
    const answer = await agent.request(action, { form: { csrf, email: form(f.user.email), password: f.user.password }, headers: { 'x-forwarded-for': '198.51.100.40' } });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatch(/Incorrect email or password/);
  });

  it.each(RAW_BAD_UTF8)('login with an email carrying %s (not UTF-8) is a wrong-credentials page', async (bytes) => {
    const { agent, action, csrf } = await loginPost();
    const cookie = agent.cookieHeader(action);
    const answer = await send(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, 'x-forwarded-for': '198.51.100.41' },
      body: `${formEncode({ csrf, password: f.user.password })}&email=alice${bytes}%40example.com`,
    });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatch(/Incorrect email or password/);
  });

  it.each(NUL_TAINTS)('GET /auth with a client_id carrying $name is our error page', async ({ form }) => {
    const params = new URLSearchParams({ client_id: form(f.reader.clientId), response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    const answer = await send(h.url(`/auth?${params}`));
    expect(answer.status).toBe(400);
    expect(answer.location).toBeUndefined();
    expect(answer.body).toMatch(/invalid_client|invalid_request/);
  });

  it.each(RAW_BAD_UTF8)('GET /auth with a client_id carrying %s is our error page', async (bytes) => {
    const answer = await send(h.url(`/auth?client_id=${f.reader.clientId}${bytes}&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid`));
    expect(answer.status).toBe(400);
    expect(answer.location).toBeUndefined();
  });

  const clientAuthEndpoints = ['/token', '/token/introspection', '/token/revocation'];

  // oidc-provider refuses a NUL in Basic credentials itself (RFC 6749 §2.3.1: VSCHAR only).
  it.each(NUL_TAINTS)('client_secret_basic with a client id carrying $name is refused everywhere', async ({ form }) => {
    for (const path of clientAuthEndpoints) {
      const credentials = Buffer.from(`${encodeURIComponent(form(f.contacts.clientId))}:${encodeURIComponent(f.contacts.clientSecret)}`).toString('base64');
      const answer = await send(h.url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${credentials}` },
        body: formEncode({ token: 'x', grant_type: 'client_credentials' }),
      });
      expect([400, 401], path).toContain(answer.status);
      expect(['invalid_client', 'invalid_request'], path).toContain(answer.json().error);
    }
  });

  it.each(NUL_TAINTS)('client_secret_post and public client ids carrying $name answer 401 invalid_client', async ({ form }) => {
    for (const path of clientAuthEndpoints) {
      const post = await send(h.url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: formEncode({ token: 'x', grant_type: 'client_credentials', client_id: form(f.contacts.clientId), client_secret: f.contacts.clientSecret }),
      });
      expect(post.status, path).toBe(401);
      const none = await send(h.url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: formEncode({ token: 'x', grant_type: 'authorization_code', code: 'x', client_id: form(f.spa.clientId) }),
      });
      expect(none.status, path).toBe(401);
    }
  });

  it.each(RAW_BAD_UTF8)('a client id carrying %s at the token endpoints answers 401', async (bytes) => {
    for (const path of clientAuthEndpoints) {
      const answer = await send(h.url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=x&grant_type=client_credentials&client_id=${f.contacts.clientId}${bytes}&client_secret=${f.contacts.clientSecret}`,
      });
      expect(answer.status, path).toBe(401);
    }
  });

  it.each(NUL_TAINTS)('registration management for a client id carrying $name is refused as unknown', async ({ form }) => {
    const answer = await send(h.url(`/reg/${encodeURIComponent(form(f.reader.clientId))}`), { headers: { authorization: 'Bearer x' } });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
  });

  it.each(TAINTS)('registration metadata carrying $name is stored faithfully or refused, never a 500', async ({ form }) => {
    const iat = await new h.app.provider.InitialAccessToken({}).save();
    const register = (metadata: Record<string, unknown>) =>
      send(h.url('/reg'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${iat}` }, body: JSON.stringify(metadata) });
    const base = { redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' };
    for (const metadata of [
      { ...base, client_name: form('Evil app') },
      { ...base, resource_scopes: { [form(f.contacts.id)]: 'contacts:read' } },
      { ...base, redirect_uris: [form('https://app.example/cb')] },
      { ...base, scope: form('openid') },
      { ...base, logo_uri: form('https://app.example/logo.png') },
    ]) {
      const answer = await register(metadata);
      expect(answer.status, JSON.stringify(metadata)).toBeLessThan(500);
      if (answer.status === 201) {
        // Whatever was stored reads back the same.
        const created = answer.json<{ client_id: string; client_name?: string }>();
        expect((await h.management.store.get(created.client_id))?.metadata.client_name).toBe(created.client_name);
      }
    }
  });

  it.each(TAINTS)('the services find nothing for ids carrying $name', async ({ form }) => {
    const m = h.management;
    expect(await m.accounts.findByEmail(form(f.user.email))).toBeUndefined();
    expect(await m.accounts.findById(form(f.user.id))).toBeUndefined();
    expect(await m.accounts.authenticate(form(f.user.email), f.user.password)).toBeUndefined();
    expect(await m.accounts.setDisabled(form(f.user.id), true)).toBe(false);
    expect(await m.store.get(form(f.reader.clientId))).toBeUndefined();
    expect(await m.store.findMetadata(form(f.reader.clientId))).toBeUndefined();
    expect(await m.store.setVerified(form(f.reader.clientId), false)).toBe(false);
    expect(await m.clients.remove(form(f.reader.clientId))).toBe(false);
    expect(await m.resources.remove(form(f.contacts.id))).toBe(false);
    expect(await h.app.audit.list({ accountId: form(f.user.id), clientId: form(f.reader.clientId) })).toEqual([]);
    expect(await h.app.grants.forAccount(form(f.user.id))).toEqual([]);
    expect(await h.app.grants.find(form('grant-id'))).toBeUndefined();
    expect(await h.app.grants.revoke(form('grant-id'), { actor: 'operator' })).toBe(false);
    await expect(m.resources.add({ id: form(f.contacts.id), scopes: [{ scope: 'x:y', description: 'x' }] })).rejects.toThrow(/resource identifier/);
    await expect(m.accounts.create({ email: form('new@example.com'), password: 'long enough password' })).rejects.toThrow(/email/);
    // Nothing was changed by any of the above.
    expect((await m.store.get(f.reader.clientId))?.verified).toBe(true);
    expect((await m.accounts.findById(f.user.id))?.disabled).toBe(false);
  });
});
