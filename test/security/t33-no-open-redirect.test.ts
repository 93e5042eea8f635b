// T33 the login and logout pages are not redirectors (RFC 9700 §2.1, §4.11; ASVS 3.7.2). Any
// return_to / next parameter on our pages is ignored: a sign-in ends at the client's registered
// redirect URI, nowhere else. After logout the browser goes only to a post_logout_redirect_uri
// registered for the client named by id_token_hint / client_id; an unregistered one is refused
// (error page) or, without a client, ignored (our own signed-out page).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { consentFields, hiddenField } from '../helpers/user-agent.ts';
import { addClient, Browser, isConsentPage, isLoginPage, open, redeem, registerClient, submit, summary, tags, type Page } from './pages-support.ts';

const EVIL = 'https://evil.example/steal';
const BYE = 'http://127.0.0.1:9999/bye';

describe.each(STORES)('T33 login and logout are not open redirectors (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  /** Neither a redirect to evil.example nor any link, form or refresh leading there. */
  function expectNoWayToEvil(page: Page) {
    expect(page.location ?? '', summary(page)).not.toContain('evil.example');
    const targets = tags(page.body).flatMap((t) => [t.attrs.href, t.attrs.action, t.attrs.src, t.attrs.formaction, t.attrs.content]);
    for (const target of targets) expect(target ?? '', summary(page)).not.toContain('evil.example');
  }

  describe('sign-in', () => {
    it('/login?return_to=… and similar are not pages that redirect', async () => {
      const browser = new Browser();
      for (const path of [
        `/login?return_to=${encodeURIComponent(EVIL)}`,
        `/login?next=${encodeURIComponent('//evil.example')}`,
        `/?return_to=${encodeURIComponent(EVIL)}`,
        `/session/end/success?return_to=${encodeURIComponent(EVIL)}`,
      ]) {
        const page = await browser.request(h.url(path));
        expect([200, 404], `${path}: ${summary(page)}`).toContain(page.status);
        expectNoWayToEvil(page);
      }
    });

    it('next/return_to on the interaction page and its forms are ignored: the flow ends at the registered URI', async () => {
      const app = await addClient(h);
      const browser = new Browser();
      const { request, page } = await open(browser, app.config, { scope: 'openid contacts:read' });
      expect(isLoginPage(page)).toBe(true);

      const withNext = await browser.request(`${page.url}?next=${encodeURIComponent('//evil.example')}&return_to=${encodeURIComponent(EVIL)}`);
      expect(isLoginPage(withNext), summary(withNext)).toBe(true);
      expectNoWayToEvil(withNext);

      // The login form posted with the same parameters in the URL and in the body.
      const action = new URL(`${new URL(page.url).pathname}/login?return_to=${encodeURIComponent(EVIL)}&next=${encodeURIComponent('//evil.example')}`, h.issuer);
      const posted = await browser.request(action.toString(), {
        form: { csrf: hiddenField(page.body, 'csrf'), email: f.user.email, password: f.user.password, return_to: EVIL, next: '//evil.example', redirect_uri: EVIL },
      });
      expect(posted.status, summary(posted)).toBe(303);
      expect(new URL(posted.location as string).origin).toBe(h.issuer);
      expectNoWayToEvil(posted);

      const consent = await browser.follow(posted.location as string, REDIRECT);
      expect(isConsentPage(consent), summary(consent)).toBe(true);
      const allowed = await browser.request(
        new URL(`${new URL(consent.url).pathname}/consent?return_to=${encodeURIComponent(EVIL)}`, h.issuer).toString(),
        { form: consentFields(consent.body, [['return_to', EVIL], ['redirect_uri', EVIL]]) },
      );
      expect(allowed.status).toBe(303);
      expect(new URL(allowed.location as string).origin).toBe(h.issuer);
      const callback = await browser.follow(allowed.location as string, REDIRECT);
      expect(callback.location?.startsWith(`${REDIRECT}?`), summary(callback)).toBe(true);
      expect((await redeem(app.config, callback.location as string, request)).access_token).toBeTruthy();
    });
  });

  describe('logout', () => {
    let dyn: Awaited<ReturnType<typeof registerClient>>;
    let other: Awaited<ReturnType<typeof addClient>>;

    beforeAll(async () => {
      // A client that registered a post-logout address, and one that did not.
      dyn = await registerClient(h, { client_name: 'Logout Target App', post_logout_redirect_uris: [BYE] });
      other = await addClient(h);
    });

    /** A signed-in browser and an ID token of `config`'s client for it. */
    async function signedIn(config: Parameters<typeof open>[1]) {
      const browser = new Browser();
      const { request, page } = await open(browser, config, { scope: 'openid contacts:read' });
      const posted = await submit(browser, page, '/login', { email: f.user.email, password: f.user.password });
      const consent = await browser.follow(posted.location as string, REDIRECT);
      const allowed = await submit(browser, consent, '/consent');
      const callback = await browser.follow(allowed.location as string, REDIRECT);
      const tokens = await redeem(config, callback.location as string, request);
      return { browser, idToken: tokens.id_token as string };
    }

    async function confirm(browser: Browser, page: Page) {
      expect(page.status, summary(page)).toBe(200);
      return browser.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(page.body, 'xsrf'), logout: 'yes' } });
    }

    it('without a client, an unregistered post_logout_redirect_uri is ignored: the user lands on our page', async () => {
      const { browser } = await signedIn(other.config);
      const page = await browser.request(h.url(`/session/end?post_logout_redirect_uri=${encodeURIComponent(EVIL)}&state=s`));
      expectNoWayToEvil(page);
      const done = await confirm(browser, page);
      expect(done.status).toBe(303);
      expect(done.location).toBe(h.url('/session/end/success'));
    });

    it('with client_id or id_token_hint, an unregistered post_logout_redirect_uri is refused with an error page', async () => {
      const { browser, idToken } = await signedIn(dyn.config);
      const variants = [
        `client_id=${other.clientId}&post_logout_redirect_uri=${encodeURIComponent(EVIL)}`,
        `id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent(EVIL)}`,
        `id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent('//evil.example/bye')}`,
        `id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent(`${BYE}/../../evil`)}`,
        `id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent(`${BYE}?next=${EVIL}`)}`,
        `id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent(`${BYE}x`)}`,
        // Registered, but for another client than the one named.
        `client_id=${other.clientId}&post_logout_redirect_uri=${encodeURIComponent(BYE)}`,
      ];
      for (const query of variants) {
        const page = await browser.request(h.url(`/session/end?${query}`));
        expect(page.status, `${query}: ${summary(page)}`).toBe(400);
        expect(page.location, query).toBeUndefined();
        expect(page.headers.get('content-type'), query).toMatch(/^text\/html/);
        expectNoWayToEvil(page);
        // No logout form to confirm either.
        expect(page.body, query).not.toContain('/session/end/confirm');
      }
    });

    it('an id_token_hint of one client cannot be paired with client_id of another', async () => {
      const { browser, idToken } = await signedIn(dyn.config);
      const page = await browser.request(h.url(`/session/end?id_token_hint=${idToken}&client_id=${other.clientId}&post_logout_redirect_uri=${encodeURIComponent(BYE)}`));
      expect(page.status, summary(page)).toBe(400);
      expect(page.location).toBeUndefined();
    });

    it('the registered post_logout_redirect_uri of the named client is used, after confirmation (control)', async () => {
      const { browser, idToken } = await signedIn(dyn.config);
      const page = await browser.request(h.url(`/session/end?id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent(BYE)}&state=s1`));
      const done = await confirm(browser, page);
      expect(done.status, summary(done)).toBe(303);
      expect(done.location).toBe(`${BYE}?state=s1`);
    });
  });
});
