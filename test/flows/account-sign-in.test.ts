// The account area signs in on its own page, into the provider's login session; over real HTTP:
// - /account without a session leads to our sign-in page and back, with no OAuth client, grant
//   or authorization request involved;
// - one session: signing in to an app is signing in to /account, and signing in on /account is
//   signing in to the authorization endpoint (prompt=none gives a code where consent exists,
//   consent_required where it does not), and the provider's logout ends it;
// - the form is CSRF-bound to the browser and refused from other sites, hostile bytes are a
//   refusal; a disabled account cannot get in and its session is not recognised, nor handed to
//   the next person; revoke, remove-scope and sign out everywhere work on such a session.
// Its login throttling: test/security/t41-account-sign-in-throttling.test.ts; its session
// cookie, fixation and TLS: test/security/t31-account-sign-in-session.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent, type PageResponse } from '../helpers/user-agent.ts';
import { STORES } from '../helpers/databases.ts';
import { parseCsp } from '../security/pages-support.ts';
import { RETIRED_ACCOUNT_CLIENT_ID } from '../../server/services/account-area.ts';

const RIGHT = 'the right password 1';

describe.each(STORES)('account area sign-in (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let reader: client.Configuration;
  let editor: client.Configuration;
  let people = 0;

  beforeAll(async () => {
    h = await startServer({ store, env: { TRUST_PROXY: 'true' } });
    f = await createFixtures(h);
    reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
  });
  afterAll(async () => h?.close());

  async function person() {
    people += 1;
    const created = await h.management.accounts.create({ email: `acct${people}-${store}@example.com`, password: RIGHT });
    return { id: created.id, email: created.email, password: RIGHT };
  }

  /** Our sign-in page as /account sends a browser without a session to it. */
  async function signInPage(agent: UserAgent): Promise<PageResponse> {
    const account = await agent.request(h.url('/account'));
    expect(account.status).toBe(303);
    expect(account.location).toBe(h.url('/account/sign-in'));
    const page = await agent.request(account.location as string);
    expect(page.status).toBe(200);
    return page;
  }

  /** Posts credentials to the sign-in form of `page`, from `ip`. */
  function postSignIn(agent: UserAgent, page: PageResponse, email: string, password: string, ip = '198.51.100.7') {
    return agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), {
      form: { csrf: hiddenField(page.body, 'csrf'), email, password },
      headers: { 'x-forwarded-for': ip },
    });
  }

  const errorOf = (body: string) => /role="alert"[^>]*>([^<]*)</.exec(body)?.[1];

  /** What a silent authorization request in this browser tells the client. */
  async function silently(agent: UserAgent, config: client.Configuration) {
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read', prompt: 'none' });
    const answer = await agent.request(request.url.toString());
    expect(answer.status).toBe(303);
    const callback = new URL(answer.location as string);
    return { request, callback, outcome: callback.searchParams.get('error') ?? (callback.searchParams.get('code') ? 'code' : 'nothing') };
  }

  async function signedInAt(agent: UserAgent, who: { email: string; password: string }) {
    const page = await signInPage(agent);
    const posted = await postSignIn(agent, page, who.email, who.password);
    expect(posted.status, errorOf(posted.body)).toBe(303);
    expect(posted.location).toBe(h.url('/account'));
    return posted;
  }

  it('/account without a session leads to our own sign-in page, then back to /account', async () => {
    const who = await person();
    const agent = new UserAgent();
    const page = await signInPage(agent);
    // Our page, not an authorization request: no client, no redirect through /auth.
    expect(page.body).toContain('action="/account/login"');
    expect(page.body).not.toMatch(/client_id|\/auth\b|\/interaction\//);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(parseCsp(page.headers.get('content-security-policy')).get('frame-ancestors')).toEqual(["'none'"]);

    const posted = await postSignIn(agent, page, who.email, who.password);
    expect(posted.status).toBe(303);
    expect(posted.location).toBe(h.url('/account'));
    const account = await agent.request(posted.location as string);
    expect(account.status).toBe(200);
    expect(account.body).toContain('Connected apps');
    expect(account.body).toContain(`Signed in as ${who.email}`);
    expect(account.body).toContain('No app has access to your account.');
    // Signed in now: the sign-in page sends the browser on.
    const again = await agent.request(h.url('/account/sign-in'));
    expect(again.status).toBe(303);
    expect(again.location).toBe(h.url('/account'));

    // Signing in to the account area delegated nothing to anyone.
    expect(await h.app.grants.forAccount(who.id)).toEqual([]);
    expect(await h.db('clients').where({ client_id: RETIRED_ACCOUNT_CLIENT_ID })).toEqual([]);
    await h.app.audit.idle();
    const events = await h.app.audit.list({ accountId: who.id });
    expect(events.find((e) => e.event === 'login.success')).toMatchObject({ clientId: undefined });
  });

  it('a session made by signing in to an app is recognised by /account without another sign-in', async () => {
    const who = await person();
    const agent = new UserAgent();
    await codeFlow(reader, who, { redirect_uri: REDIRECT, scope: 'openid contacts:read' }, agent);
    const account = await agent.request(h.url('/account'));
    expect(account.status).toBe(200);
    expect(account.body).toContain(`Signed in as ${who.email}`);
    expect(account.body).toContain('Contacts Reader');
  });

  it('signing in on /account is signing in to the authorization endpoint: prompt=none works where consent exists', async () => {
    const who = await person();
    // Consent for the reader, given earlier in another browser.
    await codeFlow(reader, who, { redirect_uri: REDIRECT, scope: 'openid contacts:read' }, new UserAgent());

    const agent = new UserAgent();
    expect((await silently(agent, reader)).outcome).toBe('login_required');
    await signedInAt(agent, who);

    const silent = await silently(agent, reader);
    expect(silent.outcome).toBe('code');
    const tokens = await client.authorizationCodeGrant(reader, silent.callback, { pkceCodeVerifier: silent.request.verifier, expectedState: silent.request.state });
    expect(tokens.claims()?.sub).toBe(who.id);
    // The session is the user's, but consent stays per app: the editor was never approved.
    expect((await silently(agent, editor)).outcome).toBe('consent_required');
    // An ordinary request skips the login page and asks only for consent.
    const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const page = await agent.follow(request.url.toString(), REDIRECT);
    expect(page.body).toContain('/consent"');
    expect(page.body).not.toContain('/login"');
  });

  describe('the form and the session', () => {
    it('is refused without its token, with another browser\'s, or from another site, and signs nobody in', async () => {
      const who = await person();
      const agent = new UserAgent();
      const page = await signInPage(agent);
      const other = await signInPage(new UserAgent());
      const action = h.url('/account/login');
      const credentials = { email: who.email, password: who.password };
      const attempts = [
        await agent.request(action, { form: credentials }),
        await agent.request(action, { form: { ...credentials, csrf: 'forged' } }),
        await agent.request(action, { form: { ...credentials, csrf: hiddenField(other.body, 'csrf') } }),
        // The right token without this browser's form cookie (a login CSRF from another site).
        await new UserAgent().request(action, { form: { ...credentials, csrf: hiddenField(page.body, 'csrf') } }),
        await agent.request(action, { form: { ...credentials, csrf: hiddenField(page.body, 'csrf') }, headers: { origin: 'https://evil.example' } }),
        await agent.request(action, { form: { ...credentials, csrf: hiddenField(page.body, 'csrf') }, headers: { 'sec-fetch-site': 'cross-site' } }),
      ];
      expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403, 403, 403]);
      expect((await agent.request(h.url('/account'))).status).toBe(303);
      // The page's own form still works.
      expect((await postSignIn(agent, page, who.email, who.password)).status).toBe(303);
    });

    it('hostile bytes in the form or its cookie are a refusal, never a 5xx', async () => {
      const agent = new UserAgent();
      const page = await signInPage(agent);
      for (const bad of ['a\u0000@example.com', 'é@example.com\u0000', 'x'.repeat(5000)]) {
        expect([400, 401]).toContain((await postSignIn(agent, page, bad, bad, '198.51.100.60')).status);
      }
      // Bytes no form would send: a NUL, a lone surrogate's UTF-8, invalid UTF-8, in every field.
      const csrf = encodeURIComponent(hiddenField(page.body, 'csrf'));
      for (const raw of ['%00', '%ED%A0%80', '%FF%FE']) {
        const answer = await fetch(h.url('/account/login'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: agent.cookieHeader(h.url('/account/login')) },
          body: `csrf=${csrf}&email=${raw}%40example.com&password=${raw}`,
        });
        expect([400, 401]).toContain(answer.status);
        const forged = await fetch(h.url('/account/login'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `latchkey.sign-in=${raw}; latchkey.sign-in.sig=${raw}` },
          body: `csrf=${raw}&email=a%40example.com&password=x`,
        });
        expect(forged.status).toBe(403);
      }
    });

    it('a disabled account cannot sign in and its session stops counting; someone else then gets a new session', async () => {
      const who = await person();
      const agent = new UserAgent();
      // Signed in, and connected an app, in this browser.
      await codeFlow(reader, who, { redirect_uri: REDIRECT, scope: 'openid contacts:read' }, agent);
      const theirs = agent.cookieHeader(h.url('/'));
      await h.management.accounts.setDisabled(who.id, true);
      const page = await signInPage(agent);
      expect((await postSignIn(agent, page, who.email, who.password, '198.51.100.50')).status).toBe(401);

      const next = await person();
      await signedInAt(agent, next);
      expect(agent.cookieHeader(h.url('/'))).not.toBe(theirs);
      const account = await agent.request(h.url('/account'));
      expect(account.body).toContain(`Signed in as ${next.email}`);
      // Nothing of the other account's session came along: not its app (the logout page would
      // name it, and the authorization endpoint would reuse its grant), not its tokens.
      expect((await agent.request(h.url('/session/end'))).body).not.toContain('Contacts Reader');
      expect((await silently(agent, reader)).outcome).toBe('consent_required');
      // The disabled account's session is gone, not handed over.
      await h.management.accounts.setDisabled(who.id, false);
      const [sessionPair] = theirs.split('; ').filter((c) => c.startsWith('latchkey.session='));
      const [sigPair] = theirs.split('; ').filter((c) => c.startsWith('latchkey.session.sig='));
      const old = await fetch(h.url('/account'), { headers: { cookie: `${sessionPair}; ${sigPair}` }, redirect: 'manual' });
      expect(old.status).toBe(303);
      expect(old.headers.get('location')).toBe('/account/sign-in');
    });

    it('signing out (the page\'s link to the provider\'s logout) ends a session made on /account', async () => {
      const who = await person();
      const agent = new UserAgent();
      await signedInAt(agent, who);
      const logout = await agent.request(h.url('/session/end'));
      expect(logout.status).toBe(200);
      const confirmed = await agent.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(logout.body, 'xsrf'), logout: 'yes' } });
      expect(confirmed.status).toBe(303);
      expect(agent.cookieNames()).not.toContain('latchkey.session');
      expect((await agent.request(h.url('/account'))).location).toBe(h.url('/account/sign-in'));
      expect((await silently(agent, reader)).outcome).toBe('login_required');
    });

    it('revoke, remove-scope and sign out everywhere work after signing in on /account', async () => {
      const who = await person();
      await codeFlow(editor, who, { redirect_uri: REDIRECT, scope: 'openid contacts:read contacts:write' }, new UserAgent());
      const agent = new UserAgent();
      await signedInAt(agent, who);
      let account = await agent.request(h.url('/account'));
      const grantId = /action="\/account\/apps\/([^/]+)\/remove-scope"/.exec(account.body)?.[1] as string;
      const narrowed = await agent.request(h.url(`/account/apps/${grantId}/remove-scope`), { form: { csrf: hiddenField(account.body, 'csrf'), scope: 'contacts:write', resource: 'https://contacts.api.test' } });
      expect(narrowed.status).toBe(303);
      expect((await h.app.grants.find(grantId))?.resources).toEqual({ 'https://contacts.api.test': ['contacts:read'] });
      account = await agent.request(h.url('/account'));
      expect(account.body).toContain('Permission removed.');
      const revoked = await agent.request(h.url(`/account/apps/${grantId}/revoke`), { form: { csrf: hiddenField(account.body, 'csrf') } });
      expect(revoked.status).toBe(303);
      expect(await h.app.grants.find(grantId)).toBeUndefined();
      account = await agent.request(h.url('/account'));
      const out = await agent.request(h.url('/account/sign-out-everywhere'), { form: { csrf: hiddenField(account.body, 'csrf') } });
      expect(out.status).toBe(303);
      expect((await agent.request(h.url('/account'))).location).toBe(h.url('/account/sign-in'));
    });
  });
});
