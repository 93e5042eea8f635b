// T32 prompt=none and errors never auto-redirect for untrusted clients (RFC 9700 §4.11.2: an
// authorization server used as an open redirector for phishing). For a client the user never
// approved, prompt=none answers 303 to the registered redirect URI with consent_required (or
// login_required when nobody is signed in): a registered URI of an operator-verified client is
// fine. For a client flagged unverified (dynamic registration), Latchkey instead shows an
// interstitial page naming where the user is about to go ("you are leaving for <host>") before
// any redirect that the user did not ask for — including errors such as invalid_scope — in
// every response mode: with response_mode=form_post the page shows the warning and a button that
// posts the answer, instead of the provider's self-submitting form (nothing reaches the client
// before the user chooses).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authorizationRequest } from '../helpers/oauth.ts';
import { addClient, Browser, isConsentPage, isLoginPage, loadedReferences, open, registerClient, submit, summary, tags, textOf, type Page } from './pages-support.ts';

const REDIRECT_HOST = new URL(REDIRECT).host;

describe.each(STORES)('T32 prompt=none and error redirects for untrusted clients (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let signedIn: Browser;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    // A browser with a signed-in session (through a flow for another app).
    signedIn = new Browser();
    const other = await addClient(h);
    const { page: login } = await open(signedIn, other.config, { scope: 'openid contacts:read' });
    const posted = await submit(signedIn, login, '/login', { email: f.user.email, password: f.user.password });
    const consent = await signedIn.follow(posted.location as string, REDIRECT);
    const allowed = await submit(signedIn, consent, '/consent');
    expect((await signedIn.follow(allowed.location as string, REDIRECT)).location?.startsWith(REDIRECT)).toBe(true);
  });
  afterAll(async () => h?.close());

  async function silent(browser: Browser, config: Parameters<typeof open>[1], scope = 'openid contacts:read', responseMode?: string) {
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope, prompt: 'none', response_mode: responseMode });
    return { request, answer: await browser.request(request.url.toString()) };
  }

  function expectErrorAtClient(answer: Page, error: string, state: string) {
    expect(answer.status, summary(answer)).toBe(303);
    const callback = new URL(answer.location as string);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);
    expect(callback.searchParams.get('error')).toBe(error);
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(h.issuer);
    expect(callback.searchParams.get('code')).toBeNull();
  }

  /** A page of ours, not a redirect, that tells the user where they would go and lets them choose. */
  function expectInterstitial(answer: Page) {
    expect(answer.status, `redirected without asking: ${summary(answer)}`).toBe(200);
    expect(answer.location).toBeUndefined();
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
    expect(textOf(answer.body)).toContain(REDIRECT_HOST);
    // Nothing moves on by itself...
    expect(loadedReferences(answer.body).filter((r) => r.tag === 'meta')).toEqual([]);
    expect(tags(answer.body).filter((t) => t.name === 'script')).toEqual([]);
    // ...and the user can choose to continue to the registered address.
    const targets = tags(answer.body).flatMap((t) => (t.name === 'a' ? [t.attrs.href] : t.name === 'form' ? [t.attrs.action] : []));
    expect(targets.some((target) => target?.startsWith(REDIRECT))).toBe(true);
  }

  /** In form_post mode the choice is a form posting the answer (error, state, iss) to the client. */
  function expectPostingChoice(answer: Page, error: string, state: string) {
    const form = tags(answer.body).find((t) => t.name === 'form' && t.attrs.action === REDIRECT);
    expect(form?.attrs.method?.toLowerCase(), summary(answer)).toBe('post');
    const hidden = Object.fromEntries(
      tags(answer.body)
        .filter((t) => t.name === 'input' && t.attrs.type === 'hidden')
        .map((t) => [t.attrs.name, t.attrs.value]),
    );
    expect(hidden).toMatchObject({ error, state, iss: h.issuer });
    expect(hidden.code).toBeUndefined();
    expect(answer.headers.get('content-security-policy')).toContain(`form-action 'self' ${new URL(REDIRECT).origin}`);
  }

  describe('an operator-verified client the user never approved', () => {
    it('signed in: prompt=none → 303 to the registered URI with consent_required', async () => {
      const app = await addClient(h);
      const { request, answer } = await silent(signedIn, app.config);
      expectErrorAtClient(answer, 'consent_required', request.state);
    });

    it('not signed in: prompt=none → 303 to the registered URI with login_required', async () => {
      const app = await addClient(h);
      const { request, answer } = await silent(new Browser(), app.config);
      expectErrorAtClient(answer, 'login_required', request.state);
    });
  });

  it('an operator-verified client in form_post mode gets the answer posted as usual', async () => {
    const app = await addClient(h);
    const { request, answer } = await silent(signedIn, app.config, 'openid contacts:read', 'form_post');
    // The provider's own self-submitting page (400 for an error answer).
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('document.forms[0].submit()');
    expect(tags(answer.body).some((t) => t.name === 'form' && t.attrs.action === REDIRECT)).toBe(true);
    expect(answer.body).toContain('name="error" value="consent_required"');
    expect(answer.body).toContain(`name="state" value="${request.state}"`);
  });

  describe.each(['query', 'form_post'])('an unverified (dynamically registered) client, response_mode=%s', (mode) => {
    const responseMode = mode === 'query' ? undefined : mode;
    const expectChoice = (answer: Page, error: string, state: string) => {
      expectInterstitial(answer);
      if (mode === 'form_post') expectPostingChoice(answer, error, state);
    };

    it('signed in, never approved: prompt=none shows an interstitial before any redirect', async () => {
      const dyn = await registerClient(h, { client_name: 'Unverified Silent App' });
      const { request, answer } = await silent(signedIn, dyn.config, 'openid contacts:read', responseMode);
      expectChoice(answer, 'consent_required', request.state);
    });

    it('not signed in: prompt=none shows an interstitial before any redirect', async () => {
      const dyn = await registerClient(h, { client_name: 'Unverified Anonymous App' });
      const { request, answer } = await silent(new Browser(), dyn.config, 'openid contacts:read', responseMode);
      expectChoice(answer, 'login_required', request.state);
    });

    it('an invalid_scope error shows an interstitial before any redirect', async () => {
      const dyn = await registerClient(h, { client_name: 'Unverified Bad Scope App' });
      const request = await authorizationRequest(dyn.config, { redirect_uri: REDIRECT, scope: 'openid nonexistent', response_mode: responseMode });
      const answer = await new Browser().request(request.url.toString());
      expectChoice(answer, 'invalid_scope', request.state);
    });

    it('an interactive request still reaches the login and consent pages (the interstitial is only for redirects)', async () => {
      const dyn = await registerClient(h, { client_name: 'Unverified Interactive App' });
      const browser = new Browser();
      const { page } = await open(browser, dyn.config, { scope: 'openid contacts:read' });
      expect(isLoginPage(page), summary(page)).toBe(true);
      const posted = await submit(browser, page, '/login', { email: f.user.email, password: f.user.password });
      const consent = await browser.follow(posted.location as string, REDIRECT);
      expect(isConsentPage(consent), summary(consent)).toBe(true);
    });
  });
});
