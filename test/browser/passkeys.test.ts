// Passkeys in Chromium with a virtual authenticator (the DevTools protocol's WebAuthn domain;
// nothing of ours is mocked): add one on the account page, sign in with it, with a password and
// then it, remove it; a cancelled ceremony and a replayed one are ordinary pages. The tokens of a
// passkey sign-in say so (acr, amr, auth_time).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import * as jose from 'jose';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CALENDAR, CONTACTS, createFixtures, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, confidentialClient } from '../helpers/oauth.ts';
import { introspect } from '../helpers/token-requests.ts';
import { launchChromium } from '../helpers/browser.ts';
import { describeViolations, seriousViolations } from '../helpers/axe.ts';

const PASSKEY = 'urn:latchkey:acr:passkey';
const PASSWORD = 'urn:latchkey:acr:password';

/** A credential as the DevTools protocol's WebAuthn domain gives and takes it. */
type Credential = { credentialId: string; isResidentCredential: boolean; privateKey: string; signCount: number; rpId?: string; userHandle?: string };

export interface Authenticator {
  cdp: CDPSession;
  authenticatorId: string;
}

/** A platform authenticator with user verification, as a phone or laptop has. */
export async function virtualAuthenticator(page: Page): Promise<Authenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

describe('passkeys in Chromium', () => {
  let h: Harness;
  let f: Fixtures;
  let browser: Browser;
  let REDIRECT: string;
  let editor: { clientId: string; clientSecret?: string | undefined };
  const app = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>back in the app'));

  beforeAll(async () => {
    // A port of its own: fixtures' REDIRECT port is login-consent.test.ts's, and files run in parallel.
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    REDIRECT = `http://127.0.0.1:${(app.address() as AddressInfo).port}/cb`;
    h = await startServer({ hostname: 'localhost' });
    f = await createFixtures(h);
    // The fixtures' editor, registered for this file's redirect URI.
    editor = await h.management.clients.add({
      name: 'Contacts Editor',
      redirectUris: [REDIRECT],
      scope: 'openid profile email offline_access contacts:read contacts:write calendar:read',
      resources: [CONTACTS, CALENDAR],
    });
    await h.app.catalog.reload();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
  });

  async function freshContext(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      // A cancelled ceremony logs nothing of ours; the browser's own WebAuthn notices are not errors of the page.
      if (message.type() === 'error') problems.push(message.text());
    });
    return { context, page, problems };
  }

  async function signInToAccount(page: Page) {
    await page.goto(h.url('/account'));
    await page.getByLabel('Email address').fill(f.user.email);
    await page.getByLabel('Password').fill(f.user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(h.url('/account'));
  }

  async function addPasskey(page: Page, name: string) {
    await page.getByLabel('Name for the new passkey').fill(name);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Passkey added.').waitFor();
  }

  async function startAuthorization(page: Page, scope = 'openid email contacts:read') {
    const config = await confidentialClient(h, editor.clientId, editor.clientSecret as string);
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope });
    await page.goto(request.url.toString());
    return { config, request };
  }

  async function backInTheApp(page: Page, config: Awaited<ReturnType<typeof confidentialClient>>, request: Awaited<ReturnType<typeof authorizationRequest>>) {
    const inApp = (url: URL) => url.toString().startsWith(REDIRECT);
    const allow = page.getByRole('button', { name: 'Allow' });
    await Promise.race([allow.waitFor(), page.waitForURL(inApp)]).catch(async (error) => {
      throw new Error(`neither consent nor the app: ${page.url()}\n${await page.locator('main').innerText()}`, { cause: error });
    });
    if (!inApp(new URL(page.url()))) {
      await allow.click();
      await page.waitForURL(inApp);
    }
    return client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: request.verifier, expectedState: request.state });
  }

  /** The passkeys of the first test's authenticator (its private keys included), for the others. */
  let laptop: Credential[];
  let signCount = 1000;

  /** An authenticator holding `credentials`, added once `page` has loaded (no conditional request finds them). */
  async function withPasskeysOf(credentials: Credential[], page: Page): Promise<Authenticator> {
    const to = await virtualAuthenticator(page);
    // The same authenticator, later: its signature counter has moved on (a lower one is a clone's, refused).
    signCount += 100;
    for (const credential of credentials) await to.cdp.send('WebAuthn.addCredential', { authenticatorId: to.authenticatorId, credential: { ...credential, signCount } });
    return to;
  }

  async function axeClean(context: BrowserContext, url: string) {
    const checking = await browser.newContext({ bypassCSP: true });
    await checking.addCookies(await context.cookies());
    const page = await checking.newPage();
    await page.goto(url);
    const violations = describeViolations(await seriousViolations(page));
    await checking.close();
    return violations;
  }

  it('adds a passkey on the account page, signs in with it (conditional UI), and the tokens say how', async () => {
    const { context, page, problems } = await freshContext();
    const authenticator = await virtualAuthenticator(page);
    await signInToAccount(page);
    await addPasskey(page, 'Test laptop');
    ({ credentials: laptop } = await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.authenticatorId }));
    expect(laptop).toHaveLength(1);
    const section = page.locator('section', { has: page.getByRole('heading', { name: 'Passkeys' }) });
    await expect(section.innerText()).resolves.toContain('Test laptop');
    await expect(section.innerText()).resolves.toContain('Last used: never');
    await expect(section.textContent()).resolves.toContain('Passkey “Test laptop” added');
    expect(await axeClean(context, h.url('/account'))).toBe('');

    // A new sign-in: the session ends, the passkey stays in the authenticator, which the login
    // page's conditional request (autofill) finds by itself: signed in without typing anything.
    await context.clearCookies();
    const { config, request } = await startAuthorization(page);
    const tokens = await backInTheApp(page, config, request);
    const idToken = jose.decodeJwt(tokens.id_token as string);
    expect(idToken.acr).toBe(PASSKEY);
    expect(idToken.amr).toEqual(['hwk', 'user']);
    expect(typeof idToken.auth_time).toBe('number');
    const info = await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, tokens.access_token);
    expect(info).toMatchObject({ active: true, acr: PASSKEY, auth_time: idToken.auth_time });
    expect(problems).toEqual([]);

    await page.goto(h.url('/account'));
    await expect(section.innerText()).resolves.not.toContain('Last used: never');
    await expect(section.textContent()).resolves.toContain('Signed in with passkey “Test laptop”');
    await context.close();
  });

  it('"Sign in with a passkey": the signed assertion is used once; a replay is an ordinary refusal', async () => {
    const { context, page } = await freshContext();
    const { config, request } = await startAuthorization(page);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await axeClean(context, page.url())).toBe('');
    await withPasskeysOf(laptop, page);
    // Hold the form's POST to send it ourselves, twice.
    let posted: { url: string; body: string } | undefined;
    await page.route('**/interaction/*/passkey', async (route) => {
      posted = { url: route.request().url(), body: route.request().postData() ?? '' };
      await route.abort();
    });
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => posted).toBeDefined();
    const send = () =>
      context.request.post(posted!.url, { data: posted!.body, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.issuer }, maxRedirects: 0 });
    const first = await send();
    expect(first.status()).toBe(303);
    const replay = await send();
    expect(replay.status()).toBe(401);
    expect(await replay.text()).toContain('could not sign you in');
    await page.unroute('**/interaction/*/passkey');
    await page.goto(new URL(first.headers().location as string, h.issuer).toString());
    const tokens = await backInTheApp(page, config, request);
    expect(jose.decodeJwt(tokens.id_token as string).acr).toBe(PASSKEY);
    await context.close();
  });

  it('a cancelled ceremony leaves an ordinary login page that says so', async () => {
    const { context, page } = await freshContext();
    await startAuthorization(page);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const phone = await withPasskeysOf(laptop, page);
    // The user turns down the fingerprint prompt.
    await phone.cdp.send('WebAuthn.setUserVerified', { authenticatorId: phone.authenticatorId, isUserVerified: false });
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => page.locator('#passkey-status').innerText(), { timeout: 15_000 }).toContain('cancelled');
    await expect(page.getByRole('heading', { name: 'Sign in' }).count()).resolves.toBe(1);
    await context.close();
  });

  it('password then passkey (PASSKEY_AS_SECOND_FACTOR): amr says both, and mfa', async () => {
    const { context, page } = await freshContext();
    const { config, request } = await startAuthorization(page, 'openid contacts:read');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email address').fill(f.user.email);
    await page.getByLabel('Password').fill(f.user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Confirm with your passkey' }).waitFor();
    expect(await axeClean(context, page.url())).toBe('');
    await withPasskeysOf(laptop, page);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    const tokens = await backInTheApp(page, config, request);
    expect(jose.decodeJwt(tokens.id_token as string)).toMatchObject({ acr: PASSKEY, amr: ['pwd', 'hwk', 'user', 'mfa'] });
    await context.close();
  });

  it('optional second factor: the user may go on with the password alone', async () => {
    const { context, page } = await freshContext();
    const { config, request } = await startAuthorization(page, 'openid contacts:read');
    await page.getByLabel('Email address').fill(f.user.email);
    await page.getByLabel('Password').fill(f.user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Continue without a passkey' }).click();
    const tokens = await backInTheApp(page, config, request);
    expect(jose.decodeJwt(tokens.id_token as string)).toMatchObject({ acr: PASSWORD, amr: ['pwd'] });
    await context.close();
  });

  it('a password sign-in says so in the tokens', async () => {
    const bob = await h.management.accounts.create({ email: 'bob@example.com', password: 'bob-password-1' });
    const { context, page } = await freshContext();
    const { config, request } = await startAuthorization(page);
    await page.getByLabel('Email address').fill(bob.email);
    await page.getByLabel('Password').fill('bob-password-1');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const tokens = await backInTheApp(page, config, request);
    const idToken = jose.decodeJwt(tokens.id_token as string);
    expect(idToken).toMatchObject({ acr: PASSWORD, amr: ['pwd'] });
    const info = await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, tokens.access_token);
    expect(info.acr).toBe(PASSWORD);
    await context.close();
  });

  describe('an API that requires a passkey for a scope (--require-passkey-for)', () => {
    beforeAll(async () => {
      await h.management.resources.update(f.contacts.id, { requirePasskeyFor: ['contacts:write'] });
      await h.app.catalog.reload();
    });
    afterAll(async () => {
      await h.management.resources.update(f.contacts.id, { requirePasskeyFor: [] });
      await h.app.catalog.reload();
    });

    it('a password session is stepped up with a passkey before consent, which says why; the token has the scope', async () => {
      const { context, page } = await freshContext();
      const { config, request } = await startAuthorization(page, 'openid contacts:read contacts:write');
      await page.getByLabel('Email address').fill(f.user.email);
      await page.getByLabel('Password').fill(f.user.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      // Going on with the password alone is allowed for signing in, not for this scope.
      await page.getByRole('button', { name: 'Continue without a passkey' }).click();
      await page.getByRole('heading', { name: 'Confirm with your passkey' }).waitFor();
      await expect(page.locator('main').innerText()).resolves.toContain('Contacts API requires a passkey for: Add, change and delete your contacts');
      expect(await axeClean(context, page.url())).toBe('');
      await withPasskeysOf(laptop, page);
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await page.getByRole('button', { name: 'Allow' }).waitFor();
      await expect(page.locator('main').innerText()).resolves.toContain('Contacts API requires a passkey for: Add, change and delete your contacts');
      const tokens = await backInTheApp(page, config, request);
      expect(tokens.scope?.split(' ')).toContain('contacts:write');
      expect(jose.decodeJwt(tokens.id_token as string)).toMatchObject({ acr: PASSKEY, amr: ['pwd', 'hwk', 'user', 'mfa'] });
      const info = await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, tokens.access_token);
      expect(info).toMatchObject({ active: true, acr: PASSKEY });
      expect(String(info.scope).split(' ')).toContain('contacts:write');
      await context.close();
    });

    it('a user without a passkey is told which API needs one and where to add it; "Back to the app" is access_denied', async () => {
      const carol = await h.management.accounts.create({ email: 'carol@example.com', password: 'carol-password-1' });
      const { context, page } = await freshContext();
      const { request } = await startAuthorization(page, 'openid contacts:write');
      await page.getByLabel('Email address').fill(carol.email);
      await page.getByLabel('Password').fill('carol-password-1');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'A passkey is needed' }).waitFor();
      const text = await page.locator('main').innerText();
      expect(text).toContain('Contacts API requires a passkey for: Add, change and delete your contacts');
      expect(await page.getByRole('link', { name: 'your account page' }).getAttribute('href')).toBe('/account');
      expect(await axeClean(context, page.url())).toBe('');
      await page.getByRole('button', { name: 'Back to the app' }).click();
      await page.waitForURL((url) => url.toString().startsWith(REDIRECT));
      const callback = new URL(page.url());
      expect(callback.searchParams.get('error')).toBe('access_denied');
      expect(callback.searchParams.get('error_description')).toContain('passkey');
      expect(callback.searchParams.get('state')).toBe(request.state);
      expect(callback.searchParams.get('code')).toBeNull();
      await context.close();
    });
  });

  it('removes a passkey on the account page; it no longer signs anyone in', async () => {
    const { context, page } = await freshContext();
    await signInToAccount(page);
    await page.getByRole('button', { name: 'Remove the passkey “Test laptop”' }).click();
    await page.getByText('Passkey removed.').waitFor();
    const section = page.locator('section', { has: page.getByRole('heading', { name: 'Passkeys' }) });
    await expect(section.innerText()).resolves.toContain('You have no passkey yet.');
    await expect(section.textContent()).resolves.toContain('Passkey “Test laptop” removed');
    await context.clearCookies();
    await startAuthorization(page);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await withPasskeysOf(laptop, page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByText('could not sign you in').waitFor();
    await context.close();
  });
});
