// Recalling JWT access tokens with status lists (draft-ietf-oauth-status-list), end to end on
// both stores: a real server, tokens from a real client library (openid-client), the user's
// browser as scripted HTTP posting the connected-apps page's own forms with their CSRF tokens,
// the admin API with an admin token, and an API protected by latchkey/resource-server with the
// contacts API's list kept for one second. Every recall below is refused by that API within
// about the list's ttl while the token itself still verifies offline against the JWKS — which
// is exactly what an API checking signatures only would go on accepting.
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent, type PageResponse } from '../helpers/user-agent.ts';
import { tokenRequest } from '../helpers/token-requests.ts';
import { AdminApiClient, adminToken } from '../helpers/admin-api.ts';
import { STORES } from '../helpers/databases.ts';
import { call, clientCredentialsToken, sleep, startApi, type Api } from '../resource-server/support.ts';

const TTL_SECONDS = 1;
/** A recall must be seen within the ttl, plus the fetch that brings the new list and a busy machine's slack. */
const RECALL_BOUND_MS = TTL_SECONDS * 1000 + 1500;

interface StatusClaim {
  status_list: { idx: number; uri: string };
}

const statusOf = (token: string) => (decodeJwt(token) as { status?: StatusClaim }).status;

describe.each(STORES)('JWT access tokens are recalled through status lists (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let api: Api;
  let editor: client.Configuration;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h, { contactsFormat: 'jwt' });
    await h.management.resources.update(CONTACTS, { statusListTtl: TTL_SECONDS });
    await h.app.catalog.reload();
    editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    api = await startApi('koa', (origin) => ({ issuer: h.issuer, resource: CONTACTS, publicUrl: origin }));
    jwks = createRemoteJWKSet(new URL(h.url('/jwks')));
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  let people = 0;
  /** A user of their own, and an app's tokens from a code flow in this user's browser. */
  async function connect(scope = 'openid offline_access contacts:read contacts:write') {
    people += 1;
    const user = { email: `status${people}-${store}@example.com`, password: 'a status list password' };
    await h.management.accounts.create(user);
    const agent = new UserAgent();
    const { tokens } = await codeFlow(editor, user, { redirect_uri: REDIRECT, scope, ...(scope.includes('offline_access') ? { prompt: 'consent' } : {}) }, agent);
    return { user, agent, tokens };
  }

  const contacts = (token: string) => call(api.url('/contacts'), { headers: { authorization: `Bearer ${token}` } });

  /** How long until the API refuses `token` (ms), polling; fails past `bound`. */
  async function refusedWithin(token: string, bound = RECALL_BOUND_MS): Promise<number> {
    const started = Date.now();
    for (;;) {
      const answer = await contacts(token);
      if (answer.status === 401) {
        expect(answer.headers['www-authenticate']).toContain('error="invalid_token", error_description="The access token has been revoked"');
        return Date.now() - started;
      }
      expect(answer.status).toBe(200);
      if (Date.now() - started > bound) throw new Error(`still accepted ${Date.now() - started} ms after the recall`);
      await sleep(100);
    }
  }

  /** What an API checking only the signature would conclude: the token is fine. */
  async function stillVerifiesOffline(token: string) {
    const { payload } = await jwtVerify(token, jwks, { issuer: h.issuer, audience: CONTACTS, typ: 'at+jwt' });
    expect(payload.exp).toBeGreaterThan(Date.now() / 1000);
  }

  async function accountPage(agent: UserAgent, user: { email: string; password: string }): Promise<PageResponse> {
    let page = await agent.follow(h.url('/account'), REDIRECT);
    if (page.body.includes('action="/account/login"')) {
      const posted = await agent.request(h.url('/account/login'), { form: { csrf: hiddenField(page.body, 'csrf'), email: user.email, password: user.password } });
      page = await agent.follow(posted.location as string, REDIRECT);
    }
    expect(page.status).toBe(200);
    return page;
  }

  it('a JWT names its index in the contacts list, which is a statuslist+jwt signed with the published keys', async () => {
    const { tokens } = await connect();
    const status = statusOf(tokens.access_token);
    expect(status?.status_list.uri).toMatch(new RegExp(`^${h.issuer}/status-lists/[\\w-]{22}$`));
    expect(Number.isInteger(status?.status_list.idx)).toBe(true);

    const response = await fetch(status?.status_list.uri as string, { headers: { accept: 'application/statuslist+jwt' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/statuslist+jwt');
    const list = await response.text();
    expect(decodeProtectedHeader(list)).toMatchObject({ typ: 'statuslist+jwt', kid: decodeProtectedHeader(tokens.access_token).kid });
    const { payload } = await jwtVerify(list, jwks, { issuer: h.issuer, subject: status?.status_list.uri, typ: 'statuslist+jwt' });
    expect(payload).toMatchObject({ ttl: TTL_SECONDS, status_list: { bits: 1 } });
    expect(payload.exp).toBe((payload.iat as number) + 2 * TTL_SECONDS);
    expect((await contacts(tokens.access_token)).status).toBe(200);

    // Client-credentials tokens have no grant to revoke: no status, nothing to fetch.
    expect(statusOf(await clientCredentialsToken(h.issuer, f.service, { scope: 'contacts:read', resource: CONTACTS }))).toBeUndefined();
    expect((await fetch(h.url('/status-lists/not-a-list'))).status).toBe(404);
  });

  it('"Revoke access" on the connected-apps page: the API refuses the JWT within the ttl; it still verifies offline', async () => {
    const { user, agent, tokens } = await connect();
    expect((await contacts(tokens.access_token)).status).toBe(200);
    const page = await accountPage(agent, user);
    const action = formAction(page.body, '/revoke');
    const revoked = await agent.request(h.url(action), { form: { csrf: hiddenField(page.body, 'csrf') } });
    expect(revoked.status).toBe(303);
    await refusedWithin(tokens.access_token);
    await stillVerifiesOffline(tokens.access_token);
  });

  it('removing a scope recalls the grant\'s JWTs for that API; the next refresh gets a narrower one that works', async () => {
    const { user, agent, tokens } = await connect();
    const page = await accountPage(agent, user);
    const action = formAction(page.body, '/remove-scope');
    const narrowed = await agent.request(h.url(action), { form: { csrf: hiddenField(page.body, 'csrf'), scope: 'contacts:write', resource: CONTACTS } });
    expect(narrowed.status).toBe(303);
    await refusedWithin(tokens.access_token);
    await stillVerifiesOffline(tokens.access_token);
    const next = await tokenRequest(h.issuer, { id: f.editor.clientId, secret: f.editor.clientSecret }, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
    expect(next.status).toBe(200);
    expect(next.body.scope).toBe('contacts:read');
    expect((await contacts(next.body.access_token as string)).status).toBe(200);
  });

  it('an operator revoking the grant through the admin API', async () => {
    const { user, tokens } = await connect();
    const created = await h.management.admin.clients.add({ client_name: `Ops ${store}`, admin: true }, { via: 'cli' });
    const admin = await AdminApiClient.load(h.issuer);
    const token = await adminToken(h.issuer, created.client_id, created.client_secret as string);
    const account = await h.management.accounts.findByEmail(user.email);
    const listed = await admin.call('GET', '/grants', { token, query: { user_id: account?.id as string } });
    const grantId = listed.body.grants.find((g: { client_id: string }) => g.client_id === f.editor.clientId).grant_id as string;
    expect((await contacts(tokens.access_token)).status).toBe(200);
    expect((await admin.call('DELETE', `/grants/${encodeURIComponent(grantId)}`, { token })).status).toBe(204);
    await refusedWithin(tokens.access_token);
    await stillVerifiesOffline(tokens.access_token);
  });

  it('an operator removing the app recalls its JWTs', async () => {
    const app = await h.management.clients.add({ name: `Gone soon ${store}`, redirectUris: [REDIRECT], scope: 'openid contacts:read', resources: [CONTACTS] });
    const config = await confidentialClient(h, app.clientId, app.clientSecret as string);
    people += 1;
    const user = { email: `status${people}-${store}@example.com`, password: 'a status list password' };
    await h.management.accounts.create(user);
    const { tokens } = await codeFlow(config, user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    expect((await contacts(tokens.access_token)).status).toBe(200);
    const created = await h.management.admin.clients.add({ client_name: `Ops remover ${store}`, admin: true }, { via: 'cli' });
    const admin = await AdminApiClient.load(h.issuer);
    const token = await adminToken(h.issuer, created.client_id, created.client_secret as string);
    expect((await admin.call('DELETE', `/clients/${encodeURIComponent(app.clientId)}`, { token })).status).toBe(204);
    await refusedWithin(tokens.access_token);
    await stillVerifiesOffline(tokens.access_token);
  });

  it('refresh-token reuse revokes the grant: every live JWT of it is refused, the latest included', async () => {
    const { tokens } = await connect();
    const editorCredentials = { id: f.editor.clientId, secret: f.editor.clientSecret };
    const second = await tokenRequest(h.issuer, editorCredentials, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
    const third = await tokenRequest(h.issuer, editorCredentials, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token as string });
    expect(third.status).toBe(200);
    for (const token of [tokens.access_token, second.body.access_token, third.body.access_token] as string[]) expect((await contacts(token)).status).toBe(200);
    // The first refresh token again, two rotations later: reuse.
    const reuse = await tokenRequest(h.issuer, editorCredentials, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
    expect(reuse.body.error).toBe('invalid_grant');
    await refusedWithin(third.body.access_token as string);
    for (const token of [tokens.access_token, second.body.access_token] as string[]) await refusedWithin(token, 0);
    await stillVerifiesOffline(third.body.access_token as string);
  });

  it('revoking the refresh token at the revocation endpoint, and logging out, recall the JWTs too', async () => {
    const viaEndpoint = await connect();
    const revoked = await fetch(h.url('/token/revocation'), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${f.editor.clientId}:${f.editor.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: viaEndpoint.tokens.refresh_token as string, token_type_hint: 'refresh_token' }),
    });
    expect(revoked.status).toBe(200);
    await refusedWithin(viaEndpoint.tokens.access_token);

    // Without offline_access the grant ends with the login session: signing out recalls its JWT.
    const session = await connect('openid contacts:read');
    expect((await contacts(session.tokens.access_token)).status).toBe(200);
    const logout = await session.agent.follow(h.url('/session/end'), REDIRECT);
    const confirmed = await session.agent.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(logout.body, 'xsrf'), logout: 'yes' } });
    expect(confirmed.status).toBe(303);
    await refusedWithin(session.tokens.access_token);
  });

  it('a recall leaves the user\'s other grants alone', async () => {
    const kept = await connect();
    const other = await connect();
    await h.management.grants.revoke(String((await h.management.grants.forAccount((await h.management.accounts.findByEmail(other.user.email))?.id as string))[0]?.grantId), { actor: 'operator' });
    await refusedWithin(other.tokens.access_token);
    expect((await contacts(kept.tokens.access_token)).status).toBe(200);
    expect(statusOf(kept.tokens.access_token)?.status_list.idx).not.toBe(statusOf(other.tokens.access_token)?.status_list.idx);
  });
});
