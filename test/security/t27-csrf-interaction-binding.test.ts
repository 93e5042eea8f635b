// T27 CSRF and interaction binding (ASVS 3.5.1–3.5.3, 3.3.2; Hydra PR #770 consent session
// fixation). The login and consent forms act only for the browser and the interaction they were
// rendered for: (a) no CSRF field → 403 and nothing saved; (b) a token from another interaction or
// another browser → 403; (c) a cross-site Origin → 403; (d) user B cannot act on user A's
// interaction; (e) a POST for a finished interaction → a friendly 4xx page, not a 500;
// (f) the same consent POST sent twice → the second does nothing.
// (Login without a token / with a forged token: test/flows/authorization-code.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { formAction, hiddenField } from '../helpers/user-agent.ts';
import { addClient, addUser, Browser, grantsFor, isConsentPage, isLoginPage, open, redeem, submit, summary, textOf, type Page } from './pages-support.ts';

const EVIL_ORIGIN = 'https://evil.example';

describe.each(STORES)('T27 CSRF and interaction binding (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let bob: Awaited<ReturnType<typeof addUser>>;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    bob = await addUser(h, 'bob@example.com');
  });
  afterAll(async () => h?.close());

  /** A fresh client (unless given) and a browser of `user` standing on its consent page. */
  async function atConsent(user = f.user, browser = new Browser(), app?: Awaited<ReturnType<typeof addClient>>) {
    const theApp = app ?? (await addClient(h));
    const { request, page } = await open(browser, theApp.config, { scope: 'openid contacts:read' });
    let consent = page;
    // A browser already signed in goes straight to the consent page.
    if (isLoginPage(page)) {
      const posted = await submit(browser, page, '/login', { email: user.email, password: user.password });
      consent = await browser.follow(posted.location as string, REDIRECT);
    }
    expect(isConsentPage(consent), summary(consent)).toBe(true);
    return { app: theApp, browser, request, consent };
  }

  /** The interaction is still waiting for a decision: its page still shows the consent form. */
  async function expectStillPending(browser: Browser, consent: Page) {
    const again = await browser.request(consent.url);
    expect(isConsentPage(again), summary(again)).toBe(true);
  }

  function expectRefusedPage(page: Page, status?: number) {
    if (status) expect(page.status, summary(page)).toBe(status);
    expect(page.status, summary(page)).toBeGreaterThanOrEqual(400);
    expect(page.status, summary(page)).toBeLessThan(500);
    expect(page.location, summary(page)).toBeUndefined();
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  }

  const post = (browser: Browser, page: Page, suffix: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    browser.request(new URL(formAction(page.body, suffix), page.url).toString(), { method: 'POST', form, headers });

  describe('(a) without the CSRF field', () => {
    it('Allow is refused with 403 and no grant is saved', async () => {
      const { app, browser, consent } = await atConsent();
      const refused = await post(browser, consent, '/consent', {});
      expectRefusedPage(refused, 403);
      expect(await grantsFor(h, f.user.id, app.clientId)).toHaveLength(0);
      await expectStillPending(browser, consent);
    });

    it('Deny is refused with 403 and nothing is sent to the app', async () => {
      const { browser, consent } = await atConsent();
      const refused = await post(browser, consent, '/abort', { csrf: '' });
      expectRefusedPage(refused, 403);
      await expectStillPending(browser, consent);
    });
  });

  describe('(b) with a token from another interaction or another browser', () => {
    it('login with the token of another interaction in the same browser → 403, not signed in', async () => {
      const app = await addClient(h);
      const browser = new Browser();
      const { page: loginX } = await open(browser, app.config, { scope: 'openid contacts:read' });
      const { page: loginY } = await open(browser, app.config, { scope: 'openid contacts:read' });
      expect(loginX.url).not.toBe(loginY.url);
      const refused = await post(browser, loginX, '/login', { csrf: hiddenField(loginY.body, 'csrf'), email: f.user.email, password: f.user.password });
      expectRefusedPage(refused, 403);
      // Still at the login step: the form is shown again, no session was created.
      expect(isLoginPage(await browser.request(loginX.url))).toBe(true);
      expect(browser.cookieNames()).not.toContain('latchkey.session');
    });

    it('Allow with the token of another interaction → 403, no grant', async () => {
      const { app, browser, consent } = await atConsent();
      const other = await atConsent(f.user, browser, app);
      const refused = await post(browser, consent, '/consent', { csrf: hiddenField(other.consent.body, 'csrf') });
      expectRefusedPage(refused, 403);
      expect(await grantsFor(h, f.user.id, app.clientId)).toHaveLength(0);
      await expectStillPending(browser, consent);
    });

    it("Allow with the token of another browser's page → 403, no grant", async () => {
      const mine = await atConsent();
      const theirs = await atConsent(bob, new Browser(), mine.app);
      const refused = await post(mine.browser, mine.consent, '/consent', { csrf: hiddenField(theirs.consent.body, 'csrf') });
      expectRefusedPage(refused, 403);
      expect(await grantsFor(h, f.user.id, mine.app.clientId)).toHaveLength(0);
      expect(await grantsFor(h, bob.id, mine.app.clientId)).toHaveLength(0);
    });
  });

  describe('(c) with a cross-site Origin', () => {
    it('login posted from https://evil.example is refused with 403 and does not sign in', async () => {
      const app = await addClient(h);
      const browser = new Browser();
      const { page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
      const posted = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password }, { origin: EVIL_ORIGIN });
      expectRefusedPage(posted, 403);
      expect(browser.cookieNames()).not.toContain('latchkey.session');
    });

    it('Allow posted from https://evil.example is refused with 403 and saves no grant', async () => {
      const { app, browser, consent } = await atConsent();
      const posted = await submit(browser, consent, '/consent', {}, { origin: EVIL_ORIGIN });
      expectRefusedPage(posted, 403);
      expect(await grantsFor(h, f.user.id, app.clientId)).toHaveLength(0);
    });

    it('Deny posted from https://evil.example is refused with 403', async () => {
      const { browser, consent } = await atConsent();
      const posted = await submit(browser, consent, '/abort', {}, { origin: EVIL_ORIGIN });
      expectRefusedPage(posted, 403);
      await expectStillPending(browser, consent);
    });

    it('a same-origin Origin header is accepted (the refusal above is about the origin)', async () => {
      const { browser, consent } = await atConsent();
      const posted = await submit(browser, consent, '/consent', {}, { origin: h.issuer });
      expect(posted.status, summary(posted)).toBe(303);
    });
  });

  describe("(d) user B acting on user A's interaction", () => {
    it("B, signed in in another browser, can neither open nor approve A's consent page", async () => {
      const alice = await atConsent();
      // Bob is signed in to the same app in his own browser.
      const bobs = await atConsent(bob, new Browser(), alice.app);
      const bobBrowser = bobs.browser;

      const opened = await bobBrowser.request(alice.consent.url);
      expectRefusedPage(opened);
      // Even with Alice's page in hand (its CSRF token), Bob's POST for her interaction fails.
      const approved = await post(bobBrowser, alice.consent, '/consent', { csrf: hiddenField(alice.consent.body, 'csrf') });
      expectRefusedPage(approved);
      const denied = await post(bobBrowser, alice.consent, '/abort', { csrf: hiddenField(alice.consent.body, 'csrf') });
      expectRefusedPage(denied);
      expect(await grantsFor(h, f.user.id, alice.app.clientId)).toHaveLength(0);
      expect(await grantsFor(h, bob.id, alice.app.clientId)).toHaveLength(0);

      // Alice's interaction is untouched: she approves, and the code is hers.
      await expectStillPending(alice.browser, alice.consent);
      const allowed = await submit(alice.browser, alice.consent, '/consent');
      const callback = await alice.browser.follow(allowed.location as string, REDIRECT);
      const tokens = await redeem(alice.app.config, callback.location as string, alice.request);
      expect(tokens.claims()?.sub).toBe(f.user.id);
    });

    it("B cannot sign in on A's login page (login fixation): A's interaction stays at the login step", async () => {
      const app = await addClient(h);
      const aliceBrowser = new Browser();
      const { request, page: login } = await open(aliceBrowser, app.config, { scope: 'openid contacts:read' });
      const bobBrowser = new Browser();
      const fixation = await post(bobBrowser, login, '/login', { csrf: hiddenField(login.body, 'csrf'), email: bob.email, password: bob.password });
      expectRefusedPage(fixation);

      expect(isLoginPage(await aliceBrowser.request(login.url))).toBe(true);
      const posted = await submit(aliceBrowser, login, '/login', { email: f.user.email, password: f.user.password });
      const consent = await aliceBrowser.follow(posted.location as string, REDIRECT);
      const allowed = await submit(aliceBrowser, consent, '/consent');
      const callback = await aliceBrowser.follow(allowed.location as string, REDIRECT);
      expect((await redeem(app.config, callback.location as string, request)).claims()?.sub).toBe(f.user.id);
    });
  });

  describe('(e) a POST for an interaction that has finished', () => {
    it('Allow, Deny and the consent page answer a friendly "expired" page with a 4xx, never a 500', async () => {
      const { app, browser, consent } = await atConsent();
      const allowed = await submit(browser, consent, '/consent');
      const done = await browser.follow(allowed.location as string, REDIRECT);
      expect(done.location?.startsWith(REDIRECT)).toBe(true);
      const grants = (await grantsFor(h, f.user.id, app.clientId)).length;

      for (const late of [await submit(browser, consent, '/consent'), await submit(browser, consent, '/abort'), await browser.request(consent.url)]) {
        expectRefusedPage(late);
        expect(textOf(late.body)).toMatch(/expired|already (been )?(completed|used|finished)/i);
      }
      expect((await grantsFor(h, f.user.id, app.clientId)).length).toBe(grants);
    });

    it('a late login POST gets the same page', async () => {
      const app = await addClient(h);
      const browser = new Browser();
      const { page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
      const posted = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
      const consent = await browser.follow(posted.location as string, REDIRECT);
      expect(isConsentPage(consent)).toBe(true);
      const late = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
      expectRefusedPage(late);
      expect(textOf(late.body)).toMatch(/expired|already (been )?(completed|used|finished)/i);
    });
  });

  describe('(f) the same consent POST sent twice', () => {
    it('a double submission saves one grant and yields one authorization code', async () => {
      const { app, browser, consent } = await atConsent();
      const first = await submit(browser, consent, '/consent');
      expect(first.status).toBe(303);
      const second = await submit(browser, consent, '/consent');
      // Either refused or the same way on; never a second approval.
      if (second.status === 303) expect(second.location).toBe(first.location);
      else expectRefusedPage(second);
      expect(await grantsFor(h, f.user.id, app.clientId)).toHaveLength(1);

      const callback = await browser.follow(first.location as string, REDIRECT);
      expect(new URL(callback.location as string).searchParams.get('code')).toBeTruthy();
      // Following the resume a second time issues nothing more.
      const again = await browser.request(first.location as string);
      expect(again.location ?? '').not.toContain('code=');
      expect(await grantsFor(h, f.user.id, app.clientId)).toHaveLength(1);
    });

    it('a replay after the flow finished changes nothing', async () => {
      const { app, browser, consent } = await atConsent();
      const first = await submit(browser, consent, '/consent');
      await browser.follow(first.location as string, REDIRECT);
      const before = (await grantsFor(h, f.user.id, app.clientId)).map((g) => g.jti).sort();
      const replay = await submit(browser, consent, '/consent');
      expectRefusedPage(replay);
      expect((await grantsFor(h, f.user.id, app.clientId)).map((g) => g.jti).sort()).toEqual(before);
    });
  });
});
