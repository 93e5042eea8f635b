// The user stays in control of what they delegated (issue 5), over real HTTP: per-scope
// consent, time-limited grants, the connected-apps page, logout that revokes, sign out
// everywhere, the operators' CLI and the audit trail.
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, confidentialClient, type AuthorizationRequest } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent, type PageResponse } from '../helpers/user-agent.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { runCli } from '../helpers/processes.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('user control (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let editor: client.Configuration;

  beforeAll(async () => {
    h = await startServer({ store, env: { GRANT_DURATIONS: '3,3600,0', GRANT_DURATION_DEFAULT: '3600' } });
    f = await createFixtures(h);
    editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
  });
  afterAll(async () => h?.close());

  const rs = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });
  const editorCreds = () => ({ id: f.editor.clientId, secret: f.editor.clientSecret });

  let people = 0;
  /** A user who has granted nothing yet, so the consent page is always shown. */
  async function freshUser() {
    people += 1;
    const password = 'a fresh password';
    const created = await h.management.accounts.create({ email: `person${people}-${store}@example.com`, password });
    return { id: created.id, email: created.email, password };
  }

  async function signInIfAsked(agent: UserAgent, page: PageResponse, user: { email: string; password: string } = f.user): Promise<PageResponse> {
    if (!page.body.includes('/login"')) return page;
    const posted = await agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), {
      form: { csrf: hiddenField(page.body, 'csrf'), email: user.email, password: user.password },
    });
    return agent.follow(posted.location as string, REDIRECT);
  }

  /** Starts a request and returns the consent page (signing in when asked). */
  async function consentPage(agent: UserAgent, scope: string, config = editor, user?: { email: string; password: string }) {
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope, prompt: scope.includes('offline_access') ? 'consent' : undefined });
    const page = await signInIfAsked(agent, await agent.follow(request.url.toString(), REDIRECT), user ?? (agentUsers.get(agent) ?? (await freshUser().then((u) => (agentUsers.set(agent, u), u)))));
    return { request, page };
  }
  const agentUsers = new Map<UserAgent, { email: string; password: string; id?: string }>();

  async function decide(agent: UserAgent, page: PageResponse, scopes: string[], duration?: string) {
    const form: Array<[string, string]> = [['csrf', hiddenField(page.body, 'csrf')], ...scopes.map((s): [string, string] => ['scope', s])];
    if (duration) form.push(['duration', duration]);
    const posted = await agent.request(new URL(formAction(page.body, '/consent'), page.url).toString(), { form });
    expect(posted.status).toBe(303);
    return agent.follow(posted.location as string, REDIRECT);
  }

  async function redeem(final: PageResponse, request: AuthorizationRequest, config = editor) {
    return client.authorizationCodeGrant(config, new URL(final.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state });
  }

  async function accountPage(agent: UserAgent): Promise<PageResponse> {
    let page = await agent.follow(h.url('/account'), REDIRECT);
    page = await signInIfAsked(agent, page, agentUsers.get(agent) ?? f.user);
    if (page.status === 303 && page.location) page = await agent.follow(page.location, REDIRECT);
    return page;
  }

  async function accountPost(agent: UserAgent, page: PageResponse, action: string, fields: Record<string, string> = {}) {
    return agent.request(h.url(action), { form: { csrf: hiddenField(page.body, 'csrf'), ...fields } });
  }

  describe('per-scope consent', () => {
    it('the grant holds exactly the ticked scopes; the token response says so', async () => {
      const agent = new UserAgent();
      const { request, page } = await consentPage(agent, 'openid contacts:read contacts:write');
      expect(page.body).toContain('name="scope" value="contacts:write" checked');
      const tokens = await redeem(await decide(agent, page, ['contacts:read']), request);
      expect(tokens.scope).toBe('contacts:read');
      expect(await introspect(h.issuer, rs(), tokens.access_token)).toMatchObject({ active: true, scope: 'contacts:read' });
      // Asking for the refused scope is refused at the token endpoint too.
      const wider = await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string, scope: 'contacts:write' });
      expect(wider.body.error).toBe('invalid_scope');

      // A later request for both asks again, only for the one not granted, showing what the app has.
      const again = await consentPage(agent, 'openid contacts:read contacts:write');
      expect(again.page.body).toContain('already has access to');
      expect(again.page.body).toContain('name="scope" value="contacts:write"');
      expect(again.page.body).not.toContain('name="scope" value="contacts:read"');
    });

    it('openid and a client\'s required scopes cannot be unticked', async () => {
      const required = await h.management.clients.add({ name: 'Needs read', redirectUris: [REDIRECT], resources: [CONTACTS] });
      await h.db('clients')
        .where({ client_id: required.clientId })
        .update({ metadata: JSON.stringify({ ...required.metadata, required_scopes: 'contacts:read' }) });
      const config = await confidentialClient(h, required.clientId, required.clientSecret as string);
      const agent = new UserAgent();
      const { request, page } = await consentPage(agent, 'openid contacts:read contacts:write', config);
      expect(page.body).toMatch(/value="contacts:read" checked disabled/);
      // The browser does not send disabled boxes; the server grants them anyway.
      const tokens = await redeem(await decide(agent, page, ['contacts:write']), request, config);
      expect(tokens.scope?.split(' ').sort()).toEqual(['contacts:read', 'contacts:write']);
    });

    it('unticking everything is a Deny', async () => {
      const agent = new UserAgent();
      const { request, page } = await consentPage(agent, 'openid calendar:read');
      const final = await decide(agent, page, []);
      const callback = new URL(final.location as string);
      expect(callback.searchParams.get('error')).toBe('access_denied');
      expect(callback.searchParams.get('state')).toBe(request.state);
    });
  });

  describe('time-limited grants', () => {
    it('the chosen duration ends the grant: no token outlives it, refresh fails after it', async () => {
      const user = await h.management.accounts.create({ email: `tim-${store}@example.com`, password: 'tim password 1' });
      const agent = new UserAgent();
      const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
      const page = await signInIfAsked(agent, await agent.follow(request.url.toString(), REDIRECT), { email: user.email, password: 'tim password 1' });
      expect(page.body).toContain('3 seconds');
      const tokens = await redeem(await decide(agent, page, ['contacts:read'], '3'), request);
      expect(tokens.expires_in).toBeLessThanOrEqual(3);
      await new Promise((r) => setTimeout(r, 3500));
      const refused = await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
      expect(refused.body.error).toBe('invalid_grant');
      expect((await introspect(h.issuer, rs(), tokens.access_token)).active).toBe(false);
    });
  });

  describe('connected apps', () => {
    it('asks for sign-in first, then lists each app with its scopes and dates', async () => {
      const agent = new UserAgent();
      const first = await agent.follow(h.url('/account'), REDIRECT);
      expect(first.body).toContain('/login"');
      const { request, page } = await consentPage(agent, 'openid contacts:read contacts:write');
      await redeem(await decide(agent, page, ['contacts:read', 'contacts:write']), request);
      const account = await accountPage(agent);
      expect(account.status).toBe(200);
      expect(account.body).toContain('Contacts Editor');
      expect(account.body).toContain('Read your contacts — read-only');
      expect(account.body).toContain('Access given');
      expect(account.body).toContain('Last used');
      expect(account.headers.get('cache-control')).toBe('no-store');
      expect(account.headers.get('x-frame-options')).toBe('DENY');
    });

    it('revoke access: its tokens die at once', async () => {
      const agent = new UserAgent();
      const { request, page } = await consentPage(agent, 'openid offline_access contacts:read');
      const tokens = await redeem(await decide(agent, page, ['offline_access', 'contacts:read']), request);
      const account = await accountPage(agent);
      const grantId = /action="\/account\/apps\/([^/]+)\/revoke"/.exec(account.body)?.[1] as string;
      expect(grantId).toBeTruthy();
      const revoked = await accountPost(agent, account, `/account/apps/${grantId}/revoke`);
      expect(revoked.status).toBe(303);
      expect(await introspect(h.issuer, rs(), tokens.access_token)).toEqual({ active: false });
      expect((await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string })).body.error).toBe('invalid_grant');
      expect((await agent.follow(revoked.location as string, REDIRECT)).body).toContain('Access revoked');
    });

    it('remove one scope: tokens carrying it are recalled, the next refresh is narrower', async () => {
      const agent = new UserAgent();
      const { request, page } = await consentPage(agent, 'openid contacts:read contacts:write');
      const tokens = await redeem(await decide(agent, page, ['contacts:read', 'contacts:write']), request);
      expect(tokens.scope?.split(' ').sort()).toEqual(['contacts:read', 'contacts:write']);
      const account = await accountPage(agent);
      const grantId = /action="\/account\/apps\/([^/]+)\/remove-scope"/.exec(account.body)?.[1] as string;
      const narrowed = await accountPost(agent, account, `/account/apps/${grantId}/remove-scope`, { scope: 'contacts:write' });
      expect(narrowed.status).toBe(303);
      expect((await introspect(h.issuer, rs(), tokens.access_token)).active).toBe(false);
      const next = await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
      expect(next.status).toBe(200);
      expect(next.body.scope).toBe('contacts:read');
    });

    it("one user cannot revoke or narrow another user's grant by its id", async () => {
      const alice = new UserAgent();
      const { request, page } = await consentPage(alice, 'openid contacts:read contacts:write');
      const tokens = await redeem(await decide(alice, page, ['contacts:read', 'contacts:write']), request);
      const grantId = /action="\/account\/apps\/([^/]+)\/revoke"/.exec((await accountPage(alice)).body)?.[1] as string;

      // Bob, signed in with his own session and his own valid form token, names Alice's grant.
      const bob = new UserAgent();
      await consentPage(bob, 'openid contacts:read');
      const bobAccount = await accountPage(bob);
      const narrowed = await accountPost(bob, bobAccount, `/account/apps/${grantId}/remove-scope`, { scope: 'contacts:write' });
      const revoked = await accountPost(bob, bobAccount, `/account/apps/${grantId}/revoke`);
      expect(narrowed.status).toBe(303);
      expect(revoked.status).toBe(303);
      // Nothing happened, and Bob is not told that something did.
      expect((await agent_follow(bob, revoked.location as string)).body).not.toMatch(/Access revoked|Permission removed/);
      expect(await introspect(h.issuer, rs(), tokens.access_token)).toMatchObject({ active: true });
      const next = await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
      expect(next.body.scope?.split(' ').sort()).toEqual(['contacts:read', 'contacts:write']);
    });

    it('"Access revoked" is shown only when this browser\'s form revoked something', async () => {
      const agent = new UserAgent();
      const { request, page } = await consentPage(agent, 'openid contacts:read');
      await redeem(await decide(agent, page, ['contacts:read']), request);
      const account = await accountPage(agent);
      // A crafted link says nothing.
      expect((await agent.follow(h.url('/account?done=revoked'), REDIRECT)).body).not.toContain('Access revoked');
      // A form naming an unknown grant revokes nothing, and says nothing.
      const unknown = await accountPost(agent, account, '/account/apps/no-such-grant/revoke');
      expect((await agent_follow(agent, unknown.location as string)).body).not.toContain('Access revoked');
      // Removing a scope the grant does not hold changes nothing, and says nothing.
      const grantId = /action="\/account\/apps\/([^/]+)\/revoke"/.exec(account.body)?.[1] as string;
      const noop = await accountPost(agent, account, `/account/apps/${grantId}/remove-scope`, { scope: 'calendar:read' });
      expect((await agent_follow(agent, noop.location as string)).body).not.toContain('Permission removed');
      // The real thing says so, once.
      const real = await accountPost(agent, account, `/account/apps/${grantId}/revoke`);
      expect((await agent_follow(agent, real.location as string)).body).toContain('Access revoked');
      expect((await agent.follow(h.url('/account'), REDIRECT)).body).not.toContain('Access revoked');
    });

    async function agent_follow(agent: UserAgent, location: string) {
      return agent.follow(new URL(location, h.issuer).toString(), REDIRECT);
    }

    it('forms without their token, or with another session\'s, are refused and change nothing', async () => {
      const alice = new UserAgent();
      const { request, page } = await consentPage(alice, 'openid contacts:read');
      const tokens = await redeem(await decide(alice, page, ['contacts:read']), request);
      const aliceAccount = await accountPage(alice);
      const grantId = /action="\/account\/apps\/([^/]+)\/revoke"/.exec(aliceAccount.body)?.[1] as string;

      const noToken = await alice.request(h.url(`/account/apps/${grantId}/revoke`), { form: {} });
      expect(noToken.status).toBe(403);
      const otherSession = new UserAgent();
      const otherAccount = await accountPage(otherSession);
      const foreign = await alice.request(h.url(`/account/apps/${grantId}/revoke`), { form: { csrf: hiddenField(otherAccount.body, 'csrf') } });
      expect(foreign.status).toBe(403);
      const everywhere = await alice.request(h.url('/account/sign-out-everywhere'), { form: { csrf: 'forged' } });
      expect(everywhere.status).toBe(403);
      expect((await introspect(h.issuer, rs(), tokens.access_token)).active).toBe(true);
    });
  });

  describe('logout that revokes', () => {
    it('signing out revokes the session\'s refresh tokens that are not offline_access', async () => {
      const user = await h.management.accounts.create({ email: `lou-${store}@example.com`, password: 'lou password 1' });
      const who = { email: user.email, password: 'lou password 1' };
      const agent = new UserAgent();
      const online = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
      const page = await signInIfAsked(agent, await agent.follow(online.url.toString(), REDIRECT), who);
      const onlineTokens = await redeem(await decide(agent, page, ['contacts:read']), online);
      const reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
      const offline = await authorizationRequest(reader, { redirect_uri: REDIRECT, scope: 'openid offline_access contacts:read', prompt: 'consent' });
      const offlinePage = await agent.follow(offline.url.toString(), REDIRECT);
      const offlineTokens = await redeem(await decide(agent, offlinePage, ['offline_access', 'contacts:read']), offline, reader);

      const logout = await agent.follow(h.url('/session/end'), REDIRECT);
      expect(logout.body).toContain('Contacts Editor');
      expect(logout.body).toContain('keep the access');
      const confirmed = await agent.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(logout.body, 'xsrf'), logout: 'yes' } });
      expect(confirmed.status).toBe(303);

      expect((await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: onlineTokens.refresh_token as string })).body.error).toBe('invalid_grant');
      const kept = await tokenRequest(h.issuer, { id: f.reader.clientId, secret: f.reader.clientSecret }, { grant_type: 'refresh_token', refresh_token: offlineTokens.refresh_token as string });
      expect(kept.status).toBe(200);
    });

    it('sign out everywhere ends every session and every non-offline token', async () => {
      const user = await h.management.accounts.create({ email: `eve-${store}@example.com`, password: 'eve password 12' });
      const who = { email: user.email, password: 'eve password 12' };
      const sessions = [new UserAgent(), new UserAgent()];
      const refreshTokens: string[] = [];
      for (const agent of sessions) {
        const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
        let page = await signInIfAsked(agent, await agent.follow(request.url.toString(), REDIRECT), who);
        if (page.status === 200) page = await decide(agent, page, ['contacts:read']);
        refreshTokens.push((await redeem(page, request)).refresh_token as string);
      }
      const first = sessions[0] as UserAgent;
      let account = await agent_account(first, who);
      const out = await accountPost(first, account, '/account/sign-out-everywhere');
      expect(out.status).toBe(303);
      for (const token of refreshTokens) {
        expect((await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: token })).body.error).toBe('invalid_grant');
      }
      // The other browser has to sign in again.
      const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
      account = await (sessions[1] as UserAgent).follow(request.url.toString(), REDIRECT);
      expect(account.body).toContain('/login"');
    });

    async function agent_account(agent: UserAgent, who: { email: string; password: string }) {
      let page = await agent.follow(h.url('/account'), REDIRECT);
      if (page.body.includes('/login"')) page = await signInIfAsked(agent, page, who);
      if (page.status === 303 && page.location) page = await agent.follow(page.location, REDIRECT);
      return page;
    }
  });

  describe('operators and the audit trail', () => {
    it('records consent, logins, refreshes, reuse and revocations, and never a token value', async () => {
      const agent = new UserAgent();
      const { request, page } = await consentPage(agent, 'openid contacts:read');
      const tokens = await redeem(await decide(agent, page, ['contacts:read']), request);
      const second = await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
      await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: second.body.refresh_token as string });
      // Reuse of the first token, two generations old.
      await tokenRequest(h.issuer, editorCreds(), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
      await h.app.audit.idle();

      const events = new Set((await h.app.audit.list({ accountId: (agentUsers.get(agent) as { id: string }).id })).map((e) => e.event));
      for (const event of ['login.success', 'consent.given', 'token.issued', 'token.refreshed']) expect(events).toContain(event);
      const all = await h.app.audit.list({ clientId: f.editor.clientId });
      expect(all.some((e) => e.event === 'token.reuse_detected')).toBe(true);

      const dump = JSON.stringify(await h.db('audit_events').select('*'));
      for (const value of [tokens.access_token, tokens.refresh_token, second.body.access_token, second.body.refresh_token, f.editor.clientSecret, f.user.password]) {
        expect(dump.includes(value as string)).toBe(false);
      }
    });

    it('latchkey grant list, grant revoke and audit work from the command line', async () => {
      const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'latchkey-keys-'));
      const keysFile = path.join(dir, 'keys.json');
      fs.writeFileSync(keysFile, JSON.stringify(h.keys));
      const env = { DATABASE_URL: h.database.url, KEYS_FILE: keysFile, ISSUER: h.issuer };
      const agent = new UserAgent();
      const { request, page } = await consentPage(agent, 'openid contacts:read contacts:write');
      const tokens = await redeem(await decide(agent, page, ['contacts:read']), request);

      const person = agentUsers.get(agent) as { email: string };
      const listed = await runCli(['grant', 'list', '--user', person.email, '--json'], env);
      expect(listed.code, listed.stderr).toBe(0);
      const grants = JSON.parse(listed.stdout) as Array<{ grant_id: string; client_id: string; scope: string }>;
      const mine = grants.find((g) => g.client_id === f.editor.clientId);
      expect(mine?.scope).toContain('contacts:read');

      const revoked = await runCli(['grant', 'revoke', mine?.grant_id as string, '--json'], env);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect((await introspect(h.issuer, rs(), tokens.access_token)).active).toBe(false);

      const audit = await runCli(['audit', '--user', person.email, '--client', f.editor.clientId, '--json'], env);
      expect(audit.code, audit.stderr).toBe(0);
      const entries = JSON.parse(audit.stdout) as Array<{ event: string; actor: string }>;
      expect(entries.some((e) => e.event === 'consent.revoked' && e.actor === 'operator')).toBe(true);
      expect((await runCli(['grant', 'revoke'], env)).code).toBe(2);
      // Grant ids are base64url: one may begin with '-' and is still an id, not an option.
      const dashed = await runCli(['grant', 'revoke', '-hNoSuchGrant', '--json'], env);
      expect(dashed.code).toBe(2);
      expect(dashed.stderr).toContain('no grant -hNoSuchGrant');
    });
  });
});
