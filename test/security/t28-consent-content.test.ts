// T28 the consent page shows who is asking and for what, and warns about unverified clients
// (ASVS 10.7.1, 10.7.2, 10.4.7; RFC 9700 §4.11.2; OAuth 2.1 "Consent Phishing"; RFC 7591 §5:
// client metadata is self-asserted). The page names the client (HTML-escaped), its client id,
// where the user will be sent (the redirect host), each scope as a sentence, each API by name,
// and how long the access lasts. A dynamically registered client that no operator verified is
// flagged "unverified" and never has its consent skipped, not even after one approval.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CALENDAR, CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import {
  addClient,
  Browser,
  elements,
  isConsentPage,
  isLoginPage,
  open,
  redeem,
  registerClient,
  submit,
  summary,
  tags,
  textOf,
  type Page,
} from './pages-support.ts';

const HOSTILE_NAME = '<img src=x onerror=alert(1)>';
const APP_REDIRECT = 'https://consent-check.example/cb';
const UNVERIFIED = /not (been )?verified|unverified/i;

describe.each(STORES)('T28 consent page content and unverified clients (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  /** Signs in (when asked) and returns the consent page, or whatever came instead. */
  async function reachConsent(browser: Browser, config: Parameters<typeof open>[1], params: Parameters<typeof open>[2]) {
    const { request, page } = await open(browser, config, params);
    if (!isLoginPage(page)) return { request, page };
    const posted = await submit(browser, page, '/login', { email: f.user.email, password: f.user.password });
    return { request, page: await browser.follow(posted.location as string, params.redirect_uri ?? REDIRECT) };
  }

  /** Approves on `consent` and returns the callback the client receives. */
  async function approve(browser: Browser, consent: Page, redirectUri = REDIRECT) {
    const allowed = await submit(browser, consent, '/consent');
    const callback = await browser.follow(allowed.location as string, redirectUri);
    expect(callback.location?.startsWith(redirectUri), summary(callback)).toBe(true);
    return callback.location as string;
  }

  describe('what the consent page says', () => {
    let app: Awaited<ReturnType<typeof addClient>>;
    let consent: Page;
    let login: Page;

    beforeAll(async () => {
      app = await addClient(h, {
        name: HOSTILE_NAME,
        redirectUris: [APP_REDIRECT],
        scope: 'openid email contacts:read calendar:read',
        resources: [CONTACTS, CALENDAR],
      });
      const browser = new Browser();
      const opened = await open(browser, app.config, { scope: 'openid email contacts:read calendar:read', redirect_uri: APP_REDIRECT });
      login = opened.page;
      expect(isLoginPage(login), summary(login)).toBe(true);
      const posted = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
      consent = await browser.follow(posted.location as string, APP_REDIRECT);
      expect(isConsentPage(consent), summary(consent)).toBe(true);
    });

    it('renders a hostile client name as text, never as markup (consent and login pages)', () => {
      for (const page of [consent, login]) {
        expect(tags(page.body).filter((t) => t.name === 'img')).toEqual([]);
        expect(page.body).not.toContain('onerror=alert(1)>');
        expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
        expect(textOf(page.body)).toContain(HOSTILE_NAME);
      }
    });

    it('shows the client id', () => {
      expect(textOf(consent.body)).toContain(app.clientId);
    });

    it('shows where the user will be sent back to (the redirect host)', () => {
      expect(textOf(consent.body)).toContain(new URL(APP_REDIRECT).host);
    });

    it('describes each scope in a sentence, under the name of its API', () => {
      const text = textOf(consent.body);
      expect(text).toContain('Contacts API');
      expect(text).toContain('Calendar API');
      // The descriptions the resource servers registered.
      expect(text).toContain('Read your contacts — read-only');
      expect(text).toContain('See your calendar');
      // Every requested scope has a line of words (its checkbox label), not just its technical name.
      const lines = elements(consent.body, 'label').map(textOf);
      for (const scope of ['openid', 'email', 'contacts:read', 'calendar:read']) {
        const line = lines.find((l) => l.split(/\s+/).includes(scope));
        expect(line, `no line for ${scope}`).toBeDefined();
        const words = (line as string).replace(scope, '').trim().split(/\s+/).filter((w) => /[a-z]/i.test(w));
        expect(words.length, `"${line}"`).toBeGreaterThanOrEqual(3);
      }
      // Each API name sits above its own scopes.
      expect(text.indexOf('Contacts API')).toBeLessThan(text.indexOf('Read your contacts'));
      expect(text.indexOf('Calendar API')).toBeLessThan(text.indexOf('See your calendar'));
    });

    it('asks how long the access lasts, with the configured choices and a default', () => {
      const text = textOf(consent.body);
      expect(text).toMatch(/How long may .* keep access\?/);
      for (const choice of ['1 hour', '1 day', '30 days', 'Until you revoke it']) expect(text).toContain(choice);
      const checked = /<input type="radio"[^>]*value="(\d+)"[^>]*checked/.exec(consent.body)?.[1];
      expect(Number(checked)).toBe(h.config.grantDurationDefault);
    });

    it('an operator-created client carries no "unverified" warning', () => {
      expect(textOf(consent.body)).not.toMatch(UNVERIFIED);
    });
  });

  describe('a dynamically registered (unverified) client', () => {
    it('is flagged unverified on the consent page', async () => {
      const dyn = await registerClient(h, { client_name: 'Self Registered Reader' });
      const { page } = await reachConsent(new Browser(), dyn.config, { scope: 'openid contacts:read' });
      expect(isConsentPage(page), summary(page)).toBe(true);
      expect(textOf(page.body)).toMatch(UNVERIFIED);
      expect(textOf(page.body)).toContain('Self Registered Reader');
    });

    it('shows the consent page again in the same session after one approval', async () => {
      const dyn = await registerClient(h, { client_name: 'Same Session Reader' });
      const browser = new Browser();
      const first = await reachConsent(browser, dyn.config, { scope: 'openid contacts:read' });
      expect(isConsentPage(first.page)).toBe(true);
      await approve(browser, first.page);

      const again = await open(browser, dyn.config, { scope: 'openid contacts:read' });
      expect(isConsentPage(again.page), `consent was skipped: ${summary(again.page)}`).toBe(true);
      expect(textOf(again.page.body)).toMatch(UNVERIFIED);
    });

    it('prompt=none gets no code after one approval in the same session', async () => {
      const dyn = await registerClient(h, { client_name: 'Silent Reader' });
      const browser = new Browser();
      const first = await reachConsent(browser, dyn.config, { scope: 'openid contacts:read' });
      await approve(browser, first.page);

      const silent = await open(browser, dyn.config, { scope: 'openid contacts:read', prompt: 'none' });
      // Either an interstitial page (T32) or the error at the client — never a code.
      expect(silent.page.location ?? '', summary(silent.page)).not.toContain('code=');
    });

    it('shows the consent page again in a new session after one approval', async () => {
      const dyn = await registerClient(h, { client_name: 'New Session Reader' });
      const browser = new Browser();
      const approved = await reachConsent(browser, dyn.config, { scope: 'openid contacts:read' });
      const code = await approve(browser, approved.page);
      expect((await redeem(dyn.config, code, approved.request)).access_token).toBeTruthy();

      const later = await reachConsent(new Browser(), dyn.config, { scope: 'openid contacts:read' });
      expect(isConsentPage(later.page), `consent was skipped: ${summary(later.page)}`).toBe(true);
    });

    it('once an operator verifies it, an earlier approval is honoured in a new session (the skip the rule withholds)', async () => {
      const dyn = await registerClient(h, { client_name: 'Later Verified Reader' });
      const browser = new Browser();
      const first = await reachConsent(browser, dyn.config, { scope: 'openid contacts:read' });
      await approve(browser, first.page);
      expect(await h.management.store.setVerified(dyn.clientId, true)).toBe(true);

      const later = await reachConsent(new Browser(), dyn.config, { scope: 'openid contacts:read' });
      expect(later.page.status, summary(later.page)).toBe(303);
      expect(later.page.location).toContain('code=');
    });
  });
});
