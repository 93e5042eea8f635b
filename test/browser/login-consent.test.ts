// The login and consent pages in a real browser (Chromium): sign in, see who asks for what, Allow
// or Deny, and come back to the app with a code (or access_denied) that really works.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, confidentialClient } from '../helpers/oauth.ts';
import { introspect } from '../helpers/token-requests.ts';
import { launchChromium } from '../helpers/browser.ts';
import { ROOT } from '../helpers/processes.ts';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');

describe('login and consent in Chromium', () => {
  let h: Harness;
  let f: Fixtures;
  let browser: Browser;
  // The app's redirect URI: a real listener, as the app would have (route interception does not
  // see the redirects that end a flow).
  const app = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>back in the app'));

  beforeAll(async () => {
    await new Promise<void>((resolve) => app.listen(Number(new URL(REDIRECT).port), '127.0.0.1', resolve));
    h = await startServer();
    f = await createFixtures(h);
    browser = await launchChromium();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
  });

  /** A fresh browser profile, collecting console errors and failed requests. */
  async function freshContext(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('requestfailed', (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
    return { context, page, problems };
  }

  async function start(page: Page, scope = 'openid email contacts:read') {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope });
    const response = await page.goto(request.url.toString());
    return { config, request, response };
  }

  async function signIn(page: Page, password = f.user.password) {
    await page.getByLabel('Email address').fill(f.user.email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('Allow: the app gets a code that yields a contacts:read token', async () => {
    const { context, page, problems } = await freshContext();
    const { config, request, response } = await start(page);
    expect(response?.headers()['x-frame-options']).toBe('DENY');
    await expect(page.getByRole('heading', { name: 'Sign in' }).count()).resolves.toBe(1);

    await signIn(page);
    await page.waitForURL(/\/interaction\//);
    const body = await page.locator('main').innerText();
    expect(body).toContain('Contacts Reader');
    expect(body).toContain('Contacts API');
    expect(body).toContain('Read your contacts — read-only');
    await page.screenshot({ path: path.join(ARTIFACTS, 'consent-page.png'), fullPage: true });

    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.toString().startsWith(REDIRECT));
    const callback = new URL(page.url());
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('iss')).toBe(h.issuer);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state });
    const info = await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, tokens.access_token);
    expect(info).toMatchObject({ active: true, scope: 'contacts:read', aud: f.contacts.id });
    // The strict CSP (no inline script, form-action limited to us and the app) broke nothing.
    expect(problems).toEqual([]);

    // Same browser, same scopes: straight back to the app, no consent page.
    const again = await start(page);
    await page.waitForURL((url) => url.toString().startsWith(REDIRECT));
    expect(new URL(page.url()).searchParams.get('state')).toBe(again.request.state);
    await context.close();
  });

  it('Deny: the app gets access_denied', async () => {
    const { context, page } = await freshContext();
    // A scope not granted before, so the consent page is shown.
    const { request } = await start(page, 'openid profile contacts:read');
    await signIn(page);
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL((url) => url.toString().startsWith(REDIRECT));
    const callback = new URL(page.url());
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('code')).toBeNull();
    await context.close();
  });

  it('a wrong password shows one generic message and stays on the login page', async () => {
    const { context, page } = await freshContext();
    await start(page, 'openid profile email contacts:read');
    await signIn(page, 'not the password');
    await expect(page.getByRole('alert').innerText()).resolves.toBe('Incorrect email or password.');
    expect(page.url()).toContain('/interaction/');
    await page.screenshot({ path: path.join(ARTIFACTS, 'login-error.png'), fullPage: true });
    await signIn(page);
    await page.waitForURL(/\/interaction\//);
    await expect(page.getByRole('button', { name: 'Allow' }).count()).resolves.toBe(1);
    await context.close();
  });
});
