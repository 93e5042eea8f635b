// T24 303 after every POST (RFC 9700 §4.12). Login, consent (Allow), Deny, Cancel on the login
// page and the logout confirmation each answer 303 — never 307/308 (which would make the browser
// re-send the form, password included, to the next address) and never a 200 page carrying the
// code — with Location to the resume URL on this server, which then answers 303 to the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { hiddenField } from '../helpers/user-agent.ts';
import { authorizationRequest } from '../helpers/oauth.ts';
import { addClient, Browser, isConsentPage, isLoginPage, open, submit, summary, uidOf, type Page } from './pages-support.ts';

describe.each(STORES)('T24 303 after every POST (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  /** A POST answer that sends the browser on with a GET and carries nothing for the client. */
  function expectSeeOther(posted: Page, location: string) {
    expect(posted.status, summary(posted)).toBe(303);
    expect(posted.location).toBe(location);
    expect(posted.body).not.toMatch(/http-equiv\s*=\s*["']?refresh/i);
    expect(posted.body).not.toMatch(/[?&]code=/);
  }

  /** The resume URL, followed: 303 straight to the registered redirect URI. */
  async function expectResumeToClient(browser: Browser, resume: string) {
    const answer = await browser.request(resume);
    expect(answer.status, summary(answer)).toBe(303);
    expect(answer.location?.startsWith(`${REDIRECT}?`)).toBe(true);
    return new URL(answer.location as string);
  }

  it('the redirect into the interaction is 303; login and Allow answer 303 to the resume URL, then 303 to the client', async () => {
    const app = await addClient(h);
    const browser = new Browser();
    const request = await authorizationRequest(app.config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const start = await browser.request(request.url.toString());
    expect(start.status).toBe(303);
    expect(start.location).toMatch(new RegExp(`^${h.issuer}/interaction/[^/]+$`));

    const login = await browser.request(start.location as string);
    expect(isLoginPage(login)).toBe(true);
    const loginUid = uidOf(login.url);
    const loggedIn = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
    expectSeeOther(loggedIn, h.url(`/auth/${loginUid}`));

    // The resume after login goes on to the consent page, with 303 again.
    const afterLogin = await browser.request(loggedIn.location as string);
    expect(afterLogin.status).toBe(303);
    const consent = await browser.request(afterLogin.location as string);
    expect(isConsentPage(consent), summary(consent)).toBe(true);
    const consentUid = uidOf(consent.url);

    const allowed = await submit(browser, consent, '/consent');
    expectSeeOther(allowed, h.url(`/auth/${consentUid}`));
    const callback = await expectResumeToClient(browser, allowed.location as string);
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('state')).toBe(request.state);
  });

  it('Deny answers 303 to the resume URL, then 303 to the client with access_denied', async () => {
    const app = await addClient(h);
    const browser = new Browser();
    const { page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
    const loggedIn = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
    const consent = await browser.follow(loggedIn.location as string, REDIRECT);
    expect(isConsentPage(consent)).toBe(true);

    const denied = await submit(browser, consent, '/abort');
    expectSeeOther(denied, h.url(`/auth/${uidOf(consent.url)}`));
    const callback = await expectResumeToClient(browser, denied.location as string);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('Cancel on the login page answers 303, then 303 to the client with access_denied', async () => {
    const app = await addClient(h);
    const browser = new Browser();
    const { page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
    expect(isLoginPage(login)).toBe(true);
    const cancelled = await submit(browser, login, '/abort');
    expectSeeOther(cancelled, h.url(`/auth/${uidOf(login.url)}`));
    const callback = await expectResumeToClient(browser, cancelled.location as string);
    expect(callback.searchParams.get('error')).toBe('access_denied');
  });

  /** A browser signed in through a completed flow. */
  async function signedInBrowser() {
    const app = await addClient(h);
    const browser = new Browser();
    const { page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
    const loggedIn = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
    const consent = await browser.follow(loggedIn.location as string, REDIRECT);
    const allowed = await submit(browser, consent, '/consent');
    const done = await browser.follow(allowed.location as string, REDIRECT);
    expect(done.location?.startsWith(REDIRECT)).toBe(true);
    return browser;
  }

  it('the logout confirmation ("Yes, sign me out") answers 303 to the signed-out page', async () => {
    const browser = await signedInBrowser();
    const page = await browser.request(h.url('/session/end'));
    expect(page.status).toBe(200);
    const confirmed = await browser.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(page.body, 'xsrf'), logout: 'yes' } });
    expectSeeOther(confirmed, h.url('/session/end/success'));
    const done = await browser.request(confirmed.location as string);
    expect(done.status).toBe(200);
  });

  it('declining the logout ("No, stay signed in") answers 303 as well', async () => {
    const browser = await signedInBrowser();
    const page = await browser.request(h.url('/session/end'));
    const declined = await browser.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(page.body, 'xsrf') } });
    expect(declined.status, summary(declined)).toBe(303);
    expect(declined.location?.startsWith(h.issuer)).toBe(true);
  });
});
