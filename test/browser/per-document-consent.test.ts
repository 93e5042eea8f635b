// Per-document consent (RFC 9396) in a real browser (Chromium), on SQLite and PostgreSQL: the app
// asks to read and comment on one journal document; the consent page says so in plain words with
// each action a checkbox; the user unticks "Comment" and allows; the token carries only "read";
// the page passes axe; the connected-apps page lists the document and withdraws it. The consent
// page's screenshot is kept under test/browser/screenshots/ (committed) for the docs and review.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { client, confidentialClient } from '../helpers/oauth.ts';
import { launchChromium } from '../helpers/browser.ts';
import { describeViolations, seriousViolations } from '../helpers/axe.ts';
import { ROOT } from '../helpers/processes.ts';
import { STORES } from '../helpers/databases.ts';
import { createJournal, documentDetail, type JournalFixtures } from '../helpers/documents.ts';

const SCREENSHOTS = path.join(ROOT, 'test', 'browser', 'screenshots');

describe.each(STORES)('per-document consent in Chromium (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let j: JournalFixtures;
  let browser: Browser;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    j = await createJournal(h, { otherResource: CONTACTS });
    browser = await launchChromium();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  /** Starts the request in the page; resolves with the code callback URL once the flow ends. */
  async function start(page: Page) {
    const config = await confidentialClient(h, j.app.clientId, j.app.clientSecret);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      authorization_details: JSON.stringify([documentDetail('doc-42', ['read', 'comment'], 'Trip to Lisbon')]),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    // Nothing listens at the app's redirect URI: the browser is answered by a stand-in page, so the
    // navigation ends in a loaded page rather than a network error that can race the next goto.
    await page.route(`${REDIRECT}**`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>App</title>' }));
    const callback = page.waitForRequest((request) => request.url().startsWith(REDIRECT), { timeout: 20_000 });
    await page.goto(url.toString());
    return { config, verifier, callback };
  }

  it('says what is asked in plain words, lets the user untick an action, and the token carries only what was approved', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const { config, verifier, callback } = await start(page);
    await page.getByLabel('Email address').fill(f.user.email);
    await page.getByLabel('Password').fill(f.user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/interaction\//);

    const document = page.getByRole('group', { name: 'Journal API: Read and comment on Trip to Lisbon (doc-42): read and comment' });
    await expect(document.count()).resolves.toBe(1);
    const read = document.getByRole('checkbox', { name: 'Read' });
    const comment = document.getByRole('checkbox', { name: 'Comment' });
    await expect(read.isChecked()).resolves.toBe(true);
    await comment.uncheck();
    await expect(comment.isChecked()).resolves.toBe(false);
    // One kept picture (the page is the same on both stores).
    if (store === 'sqlite') await page.screenshot({ path: path.join(SCREENSHOTS, 'per-document-consent.png'), fullPage: true });
    const violations = await seriousViolations(page);
    expect(violations, describeViolations(violations)).toEqual([]);

    await page.getByRole('button', { name: 'Allow' }).click();
    const redirect = new URL((await callback).url());
    await page.waitForURL((url) => url.toString().startsWith(REDIRECT));
    const tokens = await client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier });
    expect(tokens.authorization_details).toEqual([documentDetail('doc-42', ['read'], 'Trip to Lisbon')]);

    // The connected-apps page lists the document, and withdraws it.
    await page.goto(h.url('/account'));
    const line = page.getByText('Journal API: Read and comment on Trip to Lisbon (doc-42): read', { exact: true });
    await expect(line.count()).resolves.toBe(1);
    const axeAccount = await seriousViolations(page);
    expect(axeAccount, describeViolations(axeAccount)).toEqual([]);
    await page.getByRole('button', { name: /Withdraw “Read and comment on Trip to Lisbon/ }).click();
    await page.waitForURL(/\/account$/);
    await expect(page.getByText('Trip to Lisbon (doc-42)').count()).resolves.toBe(0);
    await context.close();
  });
});
