// The user stays in control, in a real browser (Chromium): what a person does on the consent
// page, the connected-apps page and the logout page really changes what an app can do.
//
// Proves, each from what the user clicks to what the app then gets:
// - unticking a scope and choosing "1 hour" on the consent page yields tokens without that scope
//   (token response, introspection, and the contacts API refusing a write) and a grant of 1 hour;
// - a grant chosen short ends: refresh fails with invalid_grant and the access token goes inactive;
// - "Revoke access" on /account kills the app's tokens at once; "Remove" narrows the next refresh;
// - signing out revokes the session's non-offline refresh tokens and keeps offline_access ones;
// - "Sign out everywhere" ends the refresh tokens of every browser the user signed in with;
// - the login, consent, connected-apps, logout and account sign-in pages have no serious or
//   critical axe-core accessibility violation.
// Screenshots land in test-artifacts/ for a person to look at.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createContactsApi } from '../../demo/contacts-api/app.ts';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, confidentialClient } from '../helpers/oauth.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { launchChromium } from '../helpers/browser.ts';
import { describeViolations, seriousViolations } from '../helpers/axe.ts';
import { ROOT } from '../helpers/processes.ts';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');
// Not fixtures.ts's REDIRECT (port 9999): test/browser/login-consent.test.ts listens there, and
// test files run in parallel processes.
const APP_REDIRECT = 'http://127.0.0.1:9998/cb';

interface Person {
  id: string;
  email: string;
  password: string;
}
interface App {
  name: string;
  config: client.Configuration;
  creds: { id: string; secret: string };
}

describe('user control in Chromium', () => {
  let h: Harness;
  let f: Fixtures;
  let browser: Browser;
  /** Reads and writes contacts (both scopes allowed). */
  let addressBook: App;
  /** Reads contacts, and may keep access while the user is away (offline_access). */
  let backup: App;
  let contactsApi: http.Server;
  let contactsUrl: string;
  // The app's redirect URI: a real listener, as in login-consent.test.ts.
  const appServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>back in the app'));

  beforeAll(async () => {
    await new Promise<void>((resolve) => appServer.listen(Number(new URL(APP_REDIRECT).port), '127.0.0.1', resolve));
    // "3 seconds" lets a grant really end during the test (as in test/flows/user-control.test.ts);
    // the default is "until revoked", so choosing "1 hour" is a choice the user makes.
    h = await startServer({ env: { GRANT_DURATIONS: '3,3600,0', GRANT_DURATION_DEFAULT: '0' } });
    f = await createFixtures(h);
    addressBook = await registerApp('Address Book', 'openid offline_access contacts:read contacts:write');
    backup = await registerApp('Contacts Backup', 'openid offline_access contacts:read');
    contactsApi = http.createServer(
      createContactsApi({ issuer: h.issuer, resource: CONTACTS, clientId: f.contacts.clientId, clientSecret: f.contacts.clientSecret, timeoutMs: 5000 }).callback(),
    );
    await new Promise<void>((resolve) => contactsApi.listen(0, '127.0.0.1', resolve));
    contactsUrl = `http://127.0.0.1:${(contactsApi.address() as AddressInfo).port}/contacts`;
    browser = await launchChromium();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    for (const server of [appServer, contactsApi]) {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
    }
  });

  async function registerApp(name: string, scope: string): Promise<App> {
    const created = await h.management.clients.add({ name, redirectUris: [APP_REDIRECT], scope, resources: [CONTACTS] });
    const secret = created.clientSecret as string;
    return { name, config: await confidentialClient(h, created.clientId, secret), creds: { id: created.clientId, secret } };
  }

  let people = 0;
  /** A user who has granted nothing and has no session anywhere: tests cannot disturb each other. */
  async function freshPerson(): Promise<Person> {
    people += 1;
    const password = 'a long enough password';
    const created = await h.management.accounts.create({ email: `browser-person${people}@example.com`, password });
    return { id: created.id, email: created.email, password };
  }

  async function freshPage(options: { bypassCSP?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext(options);
    return { context, page: await context.newPage() };
  }

  const rs = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });
  const refresh = (app: App, refreshToken: string) => tokenRequest(h.issuer, app.creds, { grant_type: 'refresh_token', refresh_token: refreshToken });

  /** Opens the app's authorization request; offline_access needs prompt=consent (OIDC Core §11). */
  async function startAuthorization(page: Page, app: App, scope: string) {
    const request = await authorizationRequest(app.config, { redirect_uri: APP_REDIRECT, scope, prompt: scope.includes('offline_access') ? 'consent' : undefined });
    await page.goto(request.url.toString());
    return request;
  }

  async function signIn(page: Page, person: Person) {
    await page.getByLabel('Email address').fill(person.email);
    await page.getByLabel('Password').fill(person.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** Waits until the browser shows the consent page or is back in the app. */
  async function settle(page: Page): Promise<'consent' | 'app'> {
    await page.getByRole('button', { name: 'Allow' }).or(page.getByText('back in the app')).waitFor();
    return page.url().startsWith(APP_REDIRECT) ? 'app' : 'consent';
  }

  async function allow(page: Page) {
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.href.startsWith(APP_REDIRECT));
  }

  /** The app's side: the code it received, redeemed with PKCE and state checks. */
  async function redeem(page: Page, app: App, request: { verifier: string; state: string }) {
    return client.authorizationCodeGrant(app.config, new URL(page.url()), { pkceCodeVerifier: request.verifier, expectedState: request.state });
  }

  /** Sign in (if asked), Allow everything (if asked), and return the app's tokens. */
  async function connect(page: Page, app: App, person: Person, scope: string) {
    const request = await startAuthorization(page, app, scope);
    if (await page.getByRole('button', { name: 'Sign in' }).count()) await signIn(page, person);
    if ((await settle(page)) === 'consent') await allow(page);
    return redeem(page, app, request);
  }

  /** The connected-apps page; signs in first when the browser has no session. */
  async function openAccount(page: Page, person: Person) {
    await page.goto(h.url('/account'));
    if (await page.getByRole('button', { name: 'Sign in' }).count()) await signIn(page, person);
    await page.getByRole('heading', { name: 'Connected apps' }).waitFor();
  }

  /** The card of one app on the connected-apps page. */
  const card = (page: Page, app: App) => page.locator('section.app-card').filter({ has: page.getByRole('heading', { name: app.name }) });

  async function callContacts(token: string, method: 'GET' | 'POST') {
    const response = await fetch(contactsUrl, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
      body: method === 'POST' ? JSON.stringify({ name: 'Bob', email: 'bob@example.com' }) : undefined,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('consent: unticking contacts:write and choosing 1 hour gives a read-only app for 1 hour', async () => {
    const person = await freshPerson();
    const { context, page } = await freshPage();
    const request = await startAuthorization(page, addressBook, 'openid offline_access contacts:read contacts:write');
    await signIn(page, person);
    expect(await settle(page)).toBe('consent');

    // Every requested scope is offered ticked; openid cannot be unticked.
    const write = page.getByRole('checkbox', { name: /contacts:write/ });
    const read = page.getByRole('checkbox', { name: /contacts:read/ });
    expect(await write.isChecked()).toBe(true);
    expect(await read.isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /openid/ }).isDisabled()).toBe(true);
    expect(await page.getByRole('radio', { name: 'Until you revoke it' }).isChecked()).toBe(true);
    await write.uncheck();
    await page.getByRole('radio', { name: '1 hour' }).check();
    expect(await write.isChecked()).toBe(false);
    expect(await page.getByRole('radio', { name: '1 hour' }).isChecked()).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'consent-toggles-duration.png'), fullPage: true });

    await allow(page);
    const tokens = await redeem(page, addressBook, request);
    const granted = tokens.scope?.split(' ') ?? [];
    expect(granted).toContain('contacts:read');
    expect(granted).not.toContain('contacts:write');
    expect(await introspect(h.issuer, rs(), tokens.access_token)).toMatchObject({ active: true, scope: 'contacts:read', aud: CONTACTS });

    // The API itself: reading works, writing is refused for lack of the scope (RFC 6750 §3.1).
    const listed = await callContacts(tokens.access_token, 'GET');
    expect(listed.status).toBe(200);
    const written = await callContacts(tokens.access_token, 'POST');
    expect(written.status).toBe(403);
    expect(written.body.error).toBe('insufficient_scope');

    // "1 hour" is what the user now sees on the connected-apps page: access ends an hour after it was given.
    await openAccount(page, person);
    const facts = card(page, addressBook).locator('dl.facts');
    const given = Date.parse(await facts.locator('dt:text-is("Access given") + dd').innerText());
    const ends = Date.parse(await facts.locator('dt:text-is("Access ends") + dd').innerText());
    expect(ends - given).toBe(3600 * 1000);
    await context.close();
  });

  it('a grant the user chose to be short ends: refresh fails with invalid_grant, the access token dies', async () => {
    const person = await freshPerson();
    const { context, page } = await freshPage();
    const request = await startAuthorization(page, addressBook, 'openid contacts:read');
    await signIn(page, person);
    expect(await settle(page)).toBe('consent');
    await page.getByRole('radio', { name: '3 seconds' }).check();
    await allow(page);
    const tokens = await redeem(page, addressBook, request);
    // No token outlives the grant: the access token ends with it.
    expect(tokens.expires_in).toBeLessThanOrEqual(3);
    const { exp } = (await introspect(h.issuer, rs(), tokens.access_token)) as { exp: number };

    // Wait exactly until the grant has ended (the access token's exp is the grant's end), no longer.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 1100));
    const refused = await refresh(addressBook, tokens.refresh_token as string);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect((await introspect(h.issuer, rs(), tokens.access_token)).active).toBe(false);
    await context.close();
  });

  it('connected apps: the app is listed in plain words; "Revoke access" kills its tokens at once', async () => {
    const person = await freshPerson();
    const { context, page } = await freshPage();
    const tokens = await connect(page, addressBook, person, 'openid offline_access contacts:read');
    expect((await introspect(h.issuer, rs(), tokens.access_token)).active).toBe(true);
    await context.close();

    // Later, from another browser: the page asks for a sign-in first, then lists the app.
    const other = await freshPage();
    const account = other.page;
    await account.goto(h.url('/account'));
    await account.getByRole('heading', { name: 'Sign in' }).waitFor();
    await openAccount(account, person);
    const app = card(account, addressBook);
    const text = await app.innerText();
    expect(text).toContain('Contacts API');
    expect(text).toContain('Read your contacts — read-only');
    expect(text).toContain('Keep access when you are not using the app, until you revoke it');
    expect(text).toContain('Access given');
    await account.screenshot({ path: path.join(ARTIFACTS, 'connected-apps-before-revoke.png'), fullPage: true });

    await app.getByRole('button', { name: `Revoke access for ${addressBook.name}` }).click();
    // The notice comes from the form's own redirect (a one-time signed cookie), not from the URL.
    await account.getByRole('status').waitFor({ state: 'visible' });
    expect(await account.getByRole('status').innerText()).toContain('Access revoked');
    expect(await card(account, addressBook).count()).toBe(0);
    expect(await account.locator('main').innerText()).toContain('No app has access to your account.');
    await account.screenshot({ path: path.join(ARTIFACTS, 'connected-apps-after-revoke.png'), fullPage: true });

    // At once, not when the access token would have expired anyway.
    expect(await introspect(h.issuer, rs(), tokens.access_token)).toEqual({ active: false });
    expect((await refresh(addressBook, tokens.refresh_token as string)).body.error).toBe('invalid_grant');
    await other.context.close();
  });

  it('connected apps: "Remove" takes one scope away; the next refresh is narrower', async () => {
    const person = await freshPerson();
    const { context, page } = await freshPage();
    const tokens = await connect(page, addressBook, person, 'openid contacts:read contacts:write');
    expect(tokens.scope?.split(' ')).toEqual(expect.arrayContaining(['contacts:read', 'contacts:write']));

    await openAccount(page, person);
    await card(page, addressBook).getByRole('button', { name: `Remove “Add, change and delete your contacts” from ${addressBook.name}` }).click();
    await page.getByRole('status').waitFor({ state: 'visible' });
    expect(await page.getByRole('status').innerText()).toContain('Permission removed');
    const left = await card(page, addressBook).innerText();
    expect(left).toContain('Read your contacts — read-only');
    expect(left).not.toContain('contacts:write');

    // The access token carrying the removed scope is recalled; the refresh token gives a narrower one.
    expect((await introspect(h.issuer, rs(), tokens.access_token)).active).toBe(false);
    const next = await refresh(addressBook, tokens.refresh_token as string);
    expect(next.status).toBe(200);
    expect(next.body.scope?.split(' ')).not.toContain('contacts:write');
    expect(await introspect(h.issuer, rs(), next.body.access_token as string)).toMatchObject({ active: true, scope: 'contacts:read' });
    expect((await callContacts(next.body.access_token as string, 'POST')).status).toBe(403);
    await context.close();
  });

  it('signing out from the account page revokes the session\'s tokens, except offline_access ones', async () => {
    const person = await freshPerson();
    const { context, page } = await freshPage();
    const online = await connect(page, addressBook, person, 'openid contacts:read');
    const offline = await connect(page, backup, person, 'openid offline_access contacts:read');

    await openAccount(page, person);
    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    // The page says which app loses access and which keeps it.
    const body = await page.locator('main').innerText();
    expect(body).toMatch(/lose the access[^]*Address Book[^]*keep the access[^]*Contacts Backup/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'logout-page.png'), fullPage: true });

    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();

    expect((await refresh(addressBook, online.refresh_token as string)).body.error).toBe('invalid_grant');
    const kept = await refresh(backup, offline.refresh_token as string);
    expect(kept.status).toBe(200);
    // The browser has no session left: the account page asks for a sign-in.
    await page.goto(h.url('/account'));
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await context.close();
  });

  it('"Sign out everywhere" ends the refresh tokens of every browser the user signed in with', async () => {
    const person = await freshPerson();
    const laptop = await freshPage();
    const phone = await freshPage();
    const laptopTokens = await connect(laptop.page, addressBook, person, 'openid contacts:read');
    const phoneTokens = await connect(phone.page, addressBook, person, 'openid contacts:read');
    // Both work before.
    expect((await introspect(h.issuer, rs(), phoneTokens.access_token)).active).toBe(true);

    await openAccount(laptop.page, person);
    await laptop.page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await laptop.page.getByRole('heading', { name: 'You are signed out everywhere' }).waitFor();

    for (const tokens of [laptopTokens, phoneTokens]) {
      expect((await refresh(addressBook, tokens.refresh_token as string)).body.error).toBe('invalid_grant');
    }
    // The other browser's session is gone too.
    await phone.page.goto(h.url('/account'));
    await phone.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await laptop.context.close();
    await phone.context.close();
  });

  it('login, consent, connected-apps, logout and account sign-in pages have no serious or critical axe-core violation', async () => {
    const person = await freshPerson();
    // axe is injected as a script, which our CSP (rightly) refuses: this context bypasses it.
    const { context, page } = await freshPage({ bypassCSP: true });
    const check = async (name: string) => {
      const violations = await seriousViolations(page);
      expect(violations, `${name} page (${page.url()}):\n${describeViolations(violations)}`).toEqual([]);
    };

    await startAuthorization(page, addressBook, 'openid offline_access contacts:read contacts:write');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await check('login');
    await signIn(page, person);
    expect(await settle(page)).toBe('consent');
    await check('consent');
    await allow(page);

    await openAccount(page, person);
    await check('connected apps');
    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await check('logout');
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
    // The account area's own sign-in page, where /account sends a browser without a session.
    await page.goto(h.url('/account'));
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/account/sign-in');
    await check('account sign-in');
    await context.close();
  });
});
