// T25 security headers on every HTML page and error page (RFC 9700 §4.16 clickjacking, §4.2.4
// Referer leakage; ASVS 3.4.3–3.4.6). Each page a browser can be sent to — login, consent, the
// provider's error page, our own error pages, logout and signed-out pages, 404 — carries a CSP with
// frame-ancestors 'none', object-src 'none', base-uri 'none'/'self', a form-action limited to this
// server (and the client's registered redirect origin where a form ends there), no
// 'unsafe-inline'/'unsafe-eval' for scripts; X-Frame-Options DENY; Referrer-Policy no-referrer;
// Cache-Control no-store; X-Content-Type-Options nosniff. Token answers are no-store too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { hiddenField } from '../helpers/user-agent.ts';
import { addClient, Browser, isConsentPage, isLoginPage, open, parseCsp, submit, summary, type Page } from './pages-support.ts';

const CLIENT_ORIGIN = new URL(REDIRECT).origin;

/** Script sources that would let injected markup run. */
const UNSAFE_SCRIPT_SOURCES = ["'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'", '*', 'data:', 'blob:', 'http:', 'https:'];

function expectPageHeaders(page: Page, { formTargets = [] }: { formTargets?: string[] } = {}) {
  const label = summary(page);
  expect(page.headers.get('content-type'), label).toMatch(/^text\/html/);

  const csp = parseCsp(page.headers.get('content-security-policy'));
  expect(csp.get('frame-ancestors'), label).toEqual(["'none'"]);
  expect(csp.get('object-src'), label).toEqual(["'none'"]);
  expect([["'none'"], ["'self'"]], label).toContainEqual(csp.get('base-uri'));

  // form-action is not covered by default-src: it must be present and name only us (and the
  // client's registered redirect origin, which the browser checks on the redirect after a form).
  const formAction = csp.get('form-action');
  expect(formAction, label).toBeDefined();
  expect(formAction, label).toContain("'self'");
  for (const source of formAction ?? []) expect(["'self'", ...formTargets], `${label}: form-action ${source}`).toContain(source);

  const scriptSources = csp.get('script-src') ?? csp.get('default-src');
  expect(scriptSources, label).toBeDefined();
  for (const source of scriptSources ?? []) expect(UNSAFE_SCRIPT_SOURCES, label).not.toContain(source);
  // Without a default-src, everything not listed would be allowed from anywhere.
  expect(csp.get('default-src'), label).toEqual(["'none'"]);

  expect(page.headers.get('x-frame-options'), label).toBe('DENY');
  expect(page.headers.get('referrer-policy'), label).toBe('no-referrer');
  expect(page.headers.get('cache-control'), label).toMatch(/(^|,\s*)no-store(\s*,|$)/);
  expect(page.headers.get('x-content-type-options'), label).toBe('nosniff');
}

describe.each(STORES)('T25 security headers on every page (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('login page, its re-rendered form after a wrong password, and the consent page', async () => {
    const app = await addClient(h);
    const browser = new Browser();
    const { page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
    expect(isLoginPage(login)).toBe(true);
    expectPageHeaders(login, { formTargets: [CLIENT_ORIGIN] });

    const wrong = await submit(browser, login, '/login', { email: f.user.email, password: 'not the password' });
    expect(wrong.status).toBe(401);
    expectPageHeaders(wrong, { formTargets: [CLIENT_ORIGIN] });

    const posted = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
    const consent = await browser.follow(posted.location as string, REDIRECT);
    expect(isConsentPage(consent)).toBe(true);
    expectPageHeaders(consent, { formTargets: [CLIENT_ORIGIN] });
  });

  it("the provider's error page (unknown client at /auth) and the not-registered redirect page", async () => {
    const browser = new Browser();
    const unknown = await browser.request(
      h.url(`/auth?client_id=nope&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&state=%3Cscript%3E`),
    );
    expect(unknown.status).toBe(400);
    expect(unknown.location).toBeUndefined();
    expectPageHeaders(unknown);

    const badRedirect = await browser.request(
      h.url(`/auth?client_id=${f.reader.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`),
    );
    expect(badRedirect.status).toBe(400);
    // A redirect URI the client never registered must not be allowed as a form target either.
    expectPageHeaders(badRedirect);
  });

  it('our own error pages: expired interaction, unknown interaction, unreadable form', async () => {
    const browser = new Browser();
    const unknownInteraction = await browser.request(h.url('/interaction/does-not-exist'));
    expect(unknownInteraction.status).toBeGreaterThanOrEqual(400);
    expect(unknownInteraction.status).toBeLessThan(500);
    expectPageHeaders(unknownInteraction);

    const app = await addClient(h);
    const { page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
    // A body past the form parser's limit: the outer handler's page.
    const tooBig = await browser.request(new URL(`${new URL(login.url).pathname}/login`, h.issuer).toString(), {
      form: { csrf: hiddenField(login.body, 'csrf'), email: 'x'.repeat(40_000), password: 'x' },
    });
    expect(tooBig.status).toBeGreaterThanOrEqual(400);
    expect(tooBig.status).toBeLessThan(500);
    expectPageHeaders(tooBig, { formTargets: [CLIENT_ORIGIN] });
  });

  it('the 404 page and the landing page', async () => {
    const browser = new Browser();
    const missing = await browser.request(h.url('/no/such/page'));
    expect(missing.status).toBe(404);
    expectPageHeaders(missing);
    const home = await browser.request(h.url('/'));
    expect(home.status).toBe(200);
    expectPageHeaders(home);
  });

  it('the logout page of a signed-in session, the automatic logout form, and the signed-out page', async () => {
    const app = await addClient(h);
    const browser = new Browser();
    const { page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
    const posted = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
    const consent = await browser.follow(posted.location as string, REDIRECT);
    const allowed = await submit(browser, consent, '/consent');
    expect((await browser.follow(allowed.location as string, REDIRECT)).location?.startsWith(REDIRECT)).toBe(true);

    const logout = await browser.request(h.url('/session/end'));
    expect(logout.status).toBe(200);
    expect(logout.body).toContain('/session/end/confirm');
    expectPageHeaders(logout);

    const confirmed = await browser.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(logout.body, 'xsrf'), logout: 'yes' } });
    expect(confirmed.status).toBe(303);
    const signedOut = await browser.request(confirmed.location as string);
    expect(signedOut.status).toBe(200);
    expectPageHeaders(signedOut);

    // Without a session the provider answers with a self-submitting form (its inline script is
    // allowed by hash, never by 'unsafe-inline').
    const automatic = await new Browser().request(h.url('/session/end'));
    expect(automatic.status).toBe(200);
    expectPageHeaders(automatic);
  });

  it('token, introspection and error answers from the JSON endpoints are no-store', async () => {
    const app = await addClient(h);
    const browser = new Browser();
    const { request, page: login } = await open(browser, app.config, { scope: 'openid contacts:read' });
    const posted = await submit(browser, login, '/login', { email: f.user.email, password: f.user.password });
    const consent = await browser.follow(posted.location as string, REDIRECT);
    const allowed = await submit(browser, consent, '/consent');
    const callback = await browser.follow(allowed.location as string, REDIRECT);
    const code = new URL(callback.location as string).searchParams.get('code') as string;

    const tokenAnswer = await fetch(h.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: request.verifier, redirect_uri: REDIRECT }),
    });
    expect(tokenAnswer.status).toBe(200);
    expect(tokenAnswer.headers.get('cache-control')).toMatch(/(^|,\s*)no-store(\s*,|$)/);
    const tokens = (await tokenAnswer.json()) as Record<string, string>;

    const introspection = await fetch(h.url('/token/introspection'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${f.contacts.clientId}:${f.contacts.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: tokens.access_token as string }),
    });
    expect(introspection.status).toBe(200);
    expect(introspection.headers.get('cache-control')).toMatch(/(^|,\s*)no-store(\s*,|$)/);
    expect(((await introspection.json()) as { active: boolean }).active).toBe(true);

    // An error answer (a replayed code) is no-store as well.
    const replay = await fetch(h.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: request.verifier, redirect_uri: REDIRECT }),
    });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('cache-control')).toMatch(/(^|,\s*)no-store(\s*,|$)/);
  });
});
