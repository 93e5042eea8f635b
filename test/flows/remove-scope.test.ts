// "Remove" on the connected-apps page takes the power out of every token, refresh tokens
// included (issue: hardening round 2, defect 4). With a real client (openid-client): remove a
// scope, then refresh, then introspect.
// - A removed scope is gone from the app's refresh token: the next refresh returns only what is
//   left, and asking for the removed scope is invalid_scope.
// - Removing an API's last scope removes the API from the grant: no token for it is issued again.
// - Removing offline_access ends the app's access when the session ends, as if it had never been
//   given.
// - A refresh token written by a refresh racing the removal carries no more than the grant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CALENDAR, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, confidentialClient } from '../helpers/oauth.ts';
import { consentFields, formAction, hiddenField, UserAgent, type PageResponse } from '../helpers/user-agent.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('removing a scope on the connected-apps page (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let editor: client.Configuration;
  let people = 0;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
  });
  afterAll(async () => h?.close());

  const contactsApi = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });
  const calendarApi = () => ({ id: f.calendar.clientId, secret: f.calendar.clientSecret });
  const editorCreds = () => ({ id: f.editor.clientId, secret: f.editor.clientSecret });
  const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
    tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });

  /** A new user signs in and approves everything asked; returns their browser and the tokens. */
  async function connect(scope: string, tokenParameters: Record<string, string> = {}) {
    people += 1;
    const user = { email: `remover${people}-${store}@example.com`, password: 'remover password 1' };
    await h.management.accounts.create(user);
    const agent = new UserAgent();
    const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope, prompt: 'consent' });
    let page = await agent.follow(request.url.toString(), REDIRECT);
    const posted = await agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), { form: { csrf: hiddenField(page.body, 'csrf'), ...user } });
    page = await agent.follow(posted.location as string, REDIRECT);
    const approved = await agent.request(new URL(formAction(page.body, '/consent'), page.url).toString(), { form: consentFields(page.body) });
    const final = await agent.follow(approved.location as string, REDIRECT);
    const tokens = await client.authorizationCodeGrant(editor, new URL(final.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state }, tokenParameters);
    return { agent, tokens };
  }

  async function accountPage(agent: UserAgent): Promise<PageResponse> {
    const page = await agent.follow(h.url('/account'), REDIRECT);
    return page.status === 303 && page.location ? agent.follow(page.location, REDIRECT) : page;
  }

  async function removeScope(agent: UserAgent, scope: string) {
    const account = await accountPage(agent);
    const grantId = /action="\/account\/apps\/([^/]+)\/remove-scope"/.exec(account.body)?.[1] as string;
    const removed = await agent.request(h.url(`/account/apps/${grantId}/remove-scope`), { form: { csrf: hiddenField(account.body, 'csrf'), scope } });
    expect(removed.status).toBe(303);
    return grantId;
  }

  it('a removed scope leaves the refresh token: the next refresh is narrower and cannot ask for it back', async () => {
    const { agent, tokens } = await connect('openid contacts:read contacts:write');
    await removeScope(agent, 'contacts:write');
    expect((await introspect(h.issuer, contactsApi(), tokens.access_token)).active).toBe(false);
    const asked = await refresh(tokens.refresh_token as string, { scope: 'contacts:write' });
    expect(asked.status).toBe(400);
    expect(asked.body.error).toBe('invalid_scope');
    const next = await refresh(tokens.refresh_token as string);
    expect(next.status).toBe(200);
    expect(next.body.scope).toBe('contacts:read');
    expect(await introspect(h.issuer, contactsApi(), next.body.access_token as string)).toMatchObject({ active: true, scope: 'contacts:read' });
    // The rotated refresh token carries the narrower scope too.
    const again = await refresh(next.body.refresh_token as string, { scope: 'contacts:write' });
    expect(again.body.error).toBe('invalid_scope');
  });

  it("removing an API's last scope removes the API: no token for it is issued again", async () => {
    // Two APIs in one grant: the code is redeemed for one of them (RFC 8707: one audience per token).
    const { agent, tokens } = await connect('openid contacts:read calendar:read', { resource: f.contacts.id });
    expect(tokens.scope?.split(' ')).toContain('contacts:read');
    await removeScope(agent, 'contacts:read');
    expect((await introspect(h.issuer, contactsApi(), tokens.access_token)).active).toBe(false);

    const next = await refresh(tokens.refresh_token as string);
    expect(next.status).toBe(200);
    expect(next.body.scope ?? '').not.toContain('contacts:read');
    expect((await introspect(h.issuer, contactsApi(), next.body.access_token as string)).active).toBe(false);
    // Asking for the API by name is refused: the grant no longer holds it.
    const named = await refresh(next.body.refresh_token as string, { resource: f.contacts.id });
    expect(named.status).toBe(400);
    expect(named.body.error).toBe('invalid_target');
    // What is left still works.
    const calendar = await refresh(next.body.refresh_token as string, { resource: CALENDAR });
    expect(calendar.status).toBe(200);
    expect(await introspect(h.issuer, calendarApi(), calendar.body.access_token as string)).toMatchObject({ active: true, scope: 'calendar:read' });
  });

  it('removing offline_access ends the access when the session ends', async () => {
    const { agent, tokens } = await connect('openid offline_access contacts:read');
    await removeScope(agent, 'offline_access');
    // While the session lives, the app keeps working (without offline_access).
    const next = await refresh(tokens.refresh_token as string);
    expect(next.status).toBe(200);
    expect(next.body.scope ?? '').not.toContain('offline_access');

    // The user signs out: as if offline_access had never been given, the access ends.
    const logout = await agent.follow(h.url('/session/end'), REDIRECT);
    const confirmed = await agent.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(logout.body, 'xsrf'), logout: 'yes' } });
    expect(confirmed.status).toBe(303);
    expect((await refresh(next.body.refresh_token as string)).body.error).toBe('invalid_grant');
    expect((await introspect(h.issuer, contactsApi(), next.body.access_token as string)).active).toBe(false);
  });

  it('a refresh token written by a refresh racing the removal carries no more than the grant', async () => {
    const { agent, tokens } = await connect('openid offline_access contacts:read contacts:write');
    const adapter = h.app.provider.RefreshToken.adapter;
    // What a refresh that read the token before the removal would write after it: the old payload.
    const before = await adapter.find(tokens.refresh_token as string);
    await removeScope(agent, 'contacts:write');
    await adapter.upsert(tokens.refresh_token as string, before as never, 3600);

    const next = await refresh(tokens.refresh_token as string);
    expect(next.status).toBe(200);
    expect(next.body.scope).toBe('contacts:read');
    expect((await refresh(next.body.refresh_token as string, { scope: 'contacts:write' })).body.error).toBe('invalid_scope');
  });
});
