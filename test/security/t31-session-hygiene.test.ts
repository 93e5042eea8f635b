// T31 session hygiene on login and logout (ASVS 7.2.4, 7.4.1, 3.3.1–3.3.4, 10.6.2).
// Signing in issues a new session cookie value (a pre-login value never becomes a signed-in
// session: no fixation); cookies are HttpOnly and SameSite=Lax, and under TLS also Secure with
// __Host-/__Secure- names; RP-initiated logout without a valid id_token_hint asks for confirmation
// (a POST form with an anti-CSRF value) instead of logging out; after logout the session's tokens
// are inactive, except those of an offline_access grant (README: "offline_access only decides
// whether it outlives the login session").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { hiddenField, type PageResponse } from '../helpers/user-agent.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { authorizationRequest } from '../helpers/oauth.ts';
import {
  addClient,
  Browser,
  BROWSER_ACCEPT,
  isConsentPage,
  isDeletion,
  isLoginPage,
  open,
  parseSetCookies,
  redeem,
  submit,
  summary,
  tags,
  type SetCookie,
} from './pages-support.ts';

describe.each(STORES)('T31 session hygiene on login and logout (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  /** Signs `browser` in through a complete flow for `app` and returns the tokens. */
  async function signedIn(browser: Browser, app: Awaited<ReturnType<typeof addClient>>, scope = 'openid contacts:read', extra: Record<string, string> = {}) {
    const { request, page } = await open(browser, app.config, { scope, ...extra });
    let next = page;
    if (isLoginPage(next)) {
      const posted = await submit(browser, next, '/login', { email: f.user.email, password: f.user.password });
      next = await browser.follow(posted.location as string, REDIRECT);
    }
    if (isConsentPage(next)) {
      const allowed = await submit(browser, next, '/consent');
      next = await browser.follow(allowed.location as string, REDIRECT);
    }
    expect(next.location?.startsWith(REDIRECT), summary(next)).toBe(true);
    return redeem(app.config, next.location as string, request);
  }

  /** What a silent authorization request in this browser tells the client. */
  async function silently(browser: Browser, app: Awaited<ReturnType<typeof addClient>>) {
    const request = await authorizationRequest(app.config, { redirect_uri: REDIRECT, scope: 'openid contacts:read', prompt: 'none' });
    const answer = await browser.request(request.url.toString());
    expect(answer.status, summary(answer)).toBe(303);
    const callback = new URL(answer.location as string);
    return callback.searchParams.get('error') ?? (callback.searchParams.get('code') ? 'code' : 'nothing');
  }

  it('signing in issues a new session cookie; the pre-login value is not a signed-in session', async () => {
    const app = await addClient(h);
    const browser = new Browser();
    // A session cookie from before sign-in (the provider creates one for a logout request).
    await browser.request(h.url('/session/end'));
    const before = browser.cookie(h.url('/'), 'latchkey.session');
    const beforeSig = browser.cookie(h.url('/'), 'latchkey.session.sig');
    expect(before, 'no pre-login session cookie to compare with').toBeDefined();

    await signedIn(browser, app);
    const after = browser.cookie(h.url('/'), 'latchkey.session');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);

    // The old cookie pair, presented again (as a fixating attacker holding it would), is anonymous.
    const request = await authorizationRequest(app.config, { redirect_uri: REDIRECT, scope: 'openid contacts:read', prompt: 'none' });
    const withOld = await fetch(request.url, { headers: { cookie: `latchkey.session=${before}; latchkey.session.sig=${beforeSig}` }, redirect: 'manual' });
    expect(withOld.status).toBe(303);
    expect(new URL(withOld.headers.get('location') as string).searchParams.get('error')).toBe('login_required');
    // ...while the new one is signed in (control).
    expect(await silently(browser, app)).toBe('code');
  });

  it('every cookie is HttpOnly and SameSite=Lax, with the narrowest path and no Domain', async () => {
    const app = await addClient(h);
    const browser = new Browser();
    const seen: SetCookie[] = [];
    const record = (r: PageResponse) => {
      seen.push(...parseSetCookies(r.headers));
      return r;
    };
    const request = await authorizationRequest(app.config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const start = record(await browser.request(request.url.toString()));
    const login = record(await browser.request(start.location as string));
    const posted = record(await submit(browser, login, '/login', { email: f.user.email, password: f.user.password }));
    const resumed = record(await browser.request(posted.location as string));
    const consent = record(await browser.request(resumed.location as string));
    const allowed = record(await submit(browser, consent, '/consent'));
    const done = record(await browser.request(allowed.location as string));
    expect(done.location?.startsWith(REDIRECT)).toBe(true);

    const set = seen.filter((c) => !isDeletion(c));
    const names = new Set(set.map((c) => c.name));
    expect(names).toContain('latchkey.session');
    expect(names).toContain('latchkey.interaction');
    expect(names).toContain('latchkey.resume');
    for (const cookie of set) {
      expect(cookie.attributes.has('httponly'), cookie.raw).toBe(true);
      expect(cookie.attributes.get('samesite')?.toLowerCase(), cookie.raw).toBe('lax');
      expect(cookie.attributes.has('domain'), cookie.raw).toBe(false);
      const path = cookie.attributes.get('path');
      if (cookie.name.startsWith('latchkey.session')) expect(path, cookie.raw).toBe('/');
      if (cookie.name.startsWith('latchkey.interaction')) expect(path, cookie.raw).toMatch(/^\/interaction\/[^/]+$/);
      if (cookie.name.startsWith('latchkey.resume')) expect(path, cookie.raw).toMatch(/^\/auth\/[^/]+$/);
    }
  });

  describe('RP-initiated logout', () => {
    it('without id_token_hint asks for confirmation with a POST form and an anti-CSRF value, and does not log out', async () => {
      const app = await addClient(h);
      const browser = new Browser();
      await signedIn(browser, app);

      for (const query of ['', `?client_id=${app.clientId}`]) {
        const page = await browser.request(h.url(`/session/end${query}`));
        expect(page.status, summary(page)).toBe(200);
        expect(page.location).toBeUndefined();
        const form = tags(page.body).find((t) => t.name === 'form' && t.attrs.action?.endsWith('/session/end/confirm'));
        expect(form?.attrs.method?.toLowerCase()).toBe('post');
        expect(hiddenField(page.body, 'xsrf').length).toBeGreaterThanOrEqual(32);
        // Showing the question did not end the session.
        expect(await silently(browser, app)).toBe('code');
      }
    });

    it('a confirmation without or with a wrong anti-CSRF value is refused and the session survives', async () => {
      const app = await addClient(h);
      const browser = new Browser();
      await signedIn(browser, app);
      const page = await browser.request(h.url('/session/end'));
      const xsrf = hiddenField(page.body, 'xsrf');

      const missing = await browser.request(h.url('/session/end/confirm'), { form: { logout: 'yes' } });
      expect(missing.status, summary(missing)).toBe(400);
      const wrong = await browser.request(h.url('/session/end/confirm'), { form: { xsrf: `${xsrf.slice(0, -2)}00`, logout: 'yes' } });
      expect(wrong.status, summary(wrong)).toBe(400);
      expect(await silently(browser, app)).toBe('code');
    });

    it('an invalid id_token_hint gets an error page, not a logout', async () => {
      const app = await addClient(h);
      const browser = new Browser();
      await signedIn(browser, app);
      const page = await browser.request(h.url('/session/end?id_token_hint=eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.'));
      expect(page.status, summary(page)).toBe(400);
      expect(page.location).toBeUndefined();
      expect(await silently(browser, app)).toBe('code');
    });

    it('confirming ends the session', async () => {
      const app = await addClient(h);
      const browser = new Browser();
      await signedIn(browser, app);
      const page = await browser.request(h.url('/session/end'));
      const confirmed = await browser.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(page.body, 'xsrf'), logout: 'yes' } });
      expect(confirmed.status).toBe(303);
      expect(browser.cookie(h.url('/'), 'latchkey.session')).toBeUndefined();
      expect(await silently(browser, app)).toBe('login_required');
    });

    it("after logout the session's tokens are inactive, while an offline_access grant survives", async () => {
      const online = await addClient(h);
      const offline = await addClient(h);
      const browser = new Browser();
      const onlineTokens = await signedIn(browser, online, 'openid contacts:read');
      // offline_access is only granted on an explicit consent (prompt=consent).
      const offlineTokens = await signedIn(browser, offline, 'openid offline_access contacts:read', { prompt: 'consent' });
      const rs = { id: f.contacts.clientId, secret: f.contacts.clientSecret };
      expect((await introspect(h.issuer, rs, onlineTokens.access_token)).active).toBe(true);
      expect((await introspect(h.issuer, rs, offlineTokens.access_token)).active).toBe(true);
      expect(onlineTokens.refresh_token).toBeTruthy();
      expect(offlineTokens.refresh_token).toBeTruthy();

      const page = await browser.request(h.url('/session/end'));
      const confirmed = await browser.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(page.body, 'xsrf'), logout: 'yes' } });
      expect(confirmed.status).toBe(303);

      expect(await introspect(h.issuer, rs, onlineTokens.access_token)).toEqual({ active: false });
      const onlineRefresh = await tokenRequest(h.issuer, { id: online.clientId, secret: online.clientSecret }, {
        grant_type: 'refresh_token',
        refresh_token: onlineTokens.refresh_token as string,
      });
      expect(onlineRefresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

      expect((await introspect(h.issuer, rs, offlineTokens.access_token)).active).toBe(true);
      const offlineRefresh = await tokenRequest(h.issuer, { id: offline.clientId, secret: offline.clientSecret }, {
        grant_type: 'refresh_token',
        refresh_token: offlineTokens.refresh_token as string,
      });
      expect(offlineRefresh.status, JSON.stringify(offlineRefresh.body)).toBe(200);
    });
  });
});

// Under TLS: the deployment README describes (ISSUER https, TLS ended at a proxy that sets
// X-Forwarded-Proto, TRUST_PROXY=true). The test talks plain HTTP to the server as that proxy
// would, and reads the cookies the browser would be given.
const PUBLIC_ISSUER = 'https://latchkey.test';

/** A browser reaching the server through a TLS-terminating proxy at PUBLIC_ISSUER. */
class BehindTlsProxy extends Browser {
  constructor(private readonly local: string) {
    super();
  }

  override async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const target = url.startsWith(PUBLIC_ISSUER) ? `${this.local}${url.slice(PUBLIC_ISSUER.length)}` : url;
    const answer = await super.request(target, {
      ...init,
      headers: { accept: BROWSER_ACCEPT, 'x-forwarded-proto': 'https', 'x-forwarded-host': new URL(PUBLIC_ISSUER).host, ...init.headers },
    });
    if (answer.location?.startsWith(PUBLIC_ISSUER)) answer.location = `${this.local}${answer.location.slice(PUBLIC_ISSUER.length)}`;
    return answer;
  }
}

describe.each(STORES)('T31 cookies under TLS (https issuer behind a proxy) (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store, env: { ISSUER: PUBLIC_ISSUER, TRUST_PROXY: 'true', ALLOW_DEV_ON_PUBLIC_ISSUER: 'true' } });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('every cookie is Secure, the session cookie is __Host-, the path-scoped ones __Secure-', async () => {
    expect(h.config.issuer).toBe(PUBLIC_ISSUER);
    const app = await addClient(h);
    const browser = new BehindTlsProxy(h.issuer);
    const seen: SetCookie[] = [];
    const record = (r: PageResponse) => {
      seen.push(...parseSetCookies(r.headers));
      return r;
    };
    const request = await authorizationRequest(app.config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const start = record(await browser.request(request.url.toString()));
    expect(start.status, summary(start)).toBe(303);
    const login = record(await browser.request(start.location as string));
    expect(isLoginPage(login), summary(login)).toBe(true);
    const posted = record(await submit(browser, login, '/login', { email: f.user.email, password: f.user.password }));
    const resumed = record(await browser.request(posted.location as string));
    const consent = record(await browser.request(resumed.location as string));
    expect(isConsentPage(consent), summary(consent)).toBe(true);
    const allowed = record(await submit(browser, consent, '/consent'));
    const done = record(await browser.request(allowed.location as string));
    expect(done.location?.startsWith(REDIRECT), summary(done)).toBe(true);

    const set = seen.filter((c) => !isDeletion(c));
    expect(set.length).toBeGreaterThan(0);
    for (const cookie of set) {
      expect(cookie.attributes.has('secure'), cookie.raw).toBe(true);
      expect(cookie.attributes.has('httponly'), cookie.raw).toBe(true);
      expect(cookie.attributes.get('samesite')?.toLowerCase(), cookie.raw).toBe('lax');
      expect(cookie.name, cookie.raw).toMatch(/^__(Host|Secure)-/);
      // __Host- requires Path=/ and no Domain, or the browser drops the cookie.
      if (cookie.name.startsWith('__Host-')) {
        expect(cookie.attributes.get('path'), cookie.raw).toBe('/');
        expect(cookie.attributes.has('domain'), cookie.raw).toBe(false);
      }
    }
    const names = set.map((c) => c.name);
    expect(names.some((n) => n.startsWith('__Host-') && n.includes('session'))).toBe(true);
    expect(names.some((n) => n.startsWith('__Secure-') && n.includes('interaction'))).toBe(true);
  });
});
