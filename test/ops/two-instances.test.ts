// Two server processes (A and B) on one PostgreSQL database behind a loopback balancer without
// sticky sessions, one issuer (the balancer's URL). Each instance has a key file of its own that
// shares only the data key with the other (test/helpers/instances.ts): signing and cookie keys
// must come through the database. What a user, an app and an operator would notice:
//
// - a Chromium sign-in on A continues to consent on B (one browser, the cookies A set);
// - a code issued through A is redeemed on B, B refreshes what A issued, introspects A's tokens
//   and sees A's revocation on the next request (openid-client as the app);
// - "Revoke access" on the connected-apps page through A is refused by B at once;
// - `latchkey keys rotate` (the CLI, its own key file copy) reaches both within seconds with
//   KEYS_POLL_SECONDS=1: both JWKS list the new kid, both sign ID and JWT access tokens with it,
//   and sessions signed before and after the rotation work on either;
// - ten concurrent refreshes of one token split over A and B: one successor pair, handed out at
//   most 1 + MAX_GRACE_REPLAYS times (docs/security.md "Refresh grace"), and it works;
// - failed sign-ins on A count on B (login back-off, docs/configuration.md);
// - two instances started at once on an empty database migrate and seed it once and both serve.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.ts';
import { roundRobin, TARGET_HEADER } from '../helpers/balancer.ts';
import { copyDataKey, instanceReady, keysPath, startCluster, type Cluster, type Instance } from '../helpers/instances.ts';
import { runCli } from '../helpers/processes.ts';
import { basicAuth, readDemoCredentials } from '../helpers/server-process.ts';
import { authorizationRequest, client, completeInteraction, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { launchChromium } from '../helpers/browser.ts';
import { generateKeyMaterial, writeKeyFile, type KeyMaterial } from '../../server/config/keys.ts';
import { MAX_GRACE_REPLAYS } from '../../server/oidc/single-use.ts';
import { DEMO } from '../../seeds/01-demo.ts';

const A = 0;
const B = 1;
const NAMES = ['A', 'B'];
const CONTACTS = DEMO.contactsApi.id;
const JWT_API = 'https://jwt.two-instances.test';
/** Generous against a busy machine; with KEYS_POLL_SECONDS=1 a rotation lands in about a second. */
const ROTATION_BOUND_MS = 5000;

interface Credentials {
  id: string;
  secret: string;
}
interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** Steered through the balancer to one instance (TARGET_HEADER), with the exact status. */
async function post(issuer: string, to: number, endpoint: string, credentials: Credentials, fields: Record<string, string>): Promise<Answer> {
  const response = await fetch(`${issuer}${endpoint}`, {
    method: 'POST',
    headers: { authorization: basicAuth(credentials.id, credentials.secret), 'content-type': 'application/x-www-form-urlencoded', [TARGET_HEADER]: String(to) },
    body: new URLSearchParams(fields),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const jwksOf = async (instance: Instance) => (await (await fetch(`${instance.direct}/jwks`)).json()) as JSONWebKeySet;
const kidsOf = async (instance: Instance) => (await jwksOf(instance)).keys.map((key) => key.kid);

describe('two instances, one PostgreSQL database, one issuer', () => {
  let database: FreshDatabase;
  let cluster: Cluster;
  let browser: Browser;
  let cliEnv: Record<string, string>;
  let fileKeys: KeyMaterial[];
  const keyDirs: string[] = [];
  let api: Credentials;
  let reader: Credentials & { config: client.Configuration };
  let app: Credentials & { config: client.Configuration };
  const alice = { email: DEMO.user.email, password: DEMO.user.password };
  const bea = { email: 'bea@example.com', password: 'bea browser password' };
  const theo = { email: 'theo@example.com', password: 'theo right password' };
  // The app's redirect URI: a real listener, so Chromium really arrives back in the app.
  const appServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>back in the app'));
  let redirect: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    redirect = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}/cb`;
    database = await freshDatabase('pg');
    const keyFiles = [keysPath(), keysPath()];
    cluster = await startCluster({
      names: NAMES,
      keysFiles: keyFiles,
      env: { DATABASE_URL: database.url, KEYS_POLL_SECONDS: '1', TRUST_PROXY: 'true', LOGIN_FREE_ATTEMPTS: '3' },
    });
    // A first: it creates the schema, the shared keys and the demo records. B and the CLI get
    // copies of A's key file with signing and cookie keys of their own.
    await instanceReady(cluster.start(A));
    const cliKeys = keysPath();
    copyDataKey(keyFiles[A] as string, keyFiles[B] as string);
    copyDataKey(keyFiles[A] as string, cliKeys);
    fileKeys = [...keyFiles, cliKeys].map((file) => JSON.parse(fs.readFileSync(file, 'utf8')) as KeyMaterial);
    keyDirs.push(...[...keyFiles, cliKeys].map((file) => path.dirname(file)));
    cliEnv = { DATABASE_URL: database.url, KEYS_FILE: cliKeys, ISSUER: cluster.issuer };
    const cli = async (...args: string[]) => {
      const result = await runCli([...args, '--json'], cliEnv);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as Record<string, string>;
    };
    const [started] = await Promise.all([
      launchChromium(),
      instanceReady(cluster.start(B)),
      cli('user', 'add', '--email', bea.email, '--password', bea.password),
      cli('user', 'add', '--email', theo.email, '--password', theo.password),
      cli('resource', 'add', '--id', JWT_API, '--scope', 'jwt:read', '--format', 'jwt'),
    ]);
    browser = started;
    const made = await cli('client', 'add', '--name', 'Both Ways', '--redirect-uri', redirect, '--resource', CONTACTS, '--resource', JWT_API, '--scope', 'openid contacts:read jwt:read');
    const demo = readDemoCredentials(keyFiles[A] as string);
    api = { id: DEMO.contactsApi.introspectionClientId, secret: demo[DEMO.contactsApi.introspectionClientId] as string };
    const readerSecret = demo[DEMO.reader.clientId] as string;
    reader = { id: DEMO.reader.clientId, secret: readerSecret, config: await confidentialClient(cluster, DEMO.reader.clientId, readerSecret) };
    app = { id: made.client_id as string, secret: made.client_secret as string, config: await confidentialClient(cluster, made.client_id as string, made.client_secret as string) };
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    await database?.drop();
    appServer.closeAllConnections();
    await new Promise((resolve) => appServer.close(resolve));
    for (const dir of keyDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `work` with every request sent to one instance, then alternates again. */
  async function on<T>(to: number, work: () => Promise<T>): Promise<T> {
    cluster.balancer.route = () => to;
    try {
      return await work();
    } finally {
      cluster.balancer.route = roundRobin(NAMES.length);
    }
  }

  /** Where the requests matching `pattern` ("METHOD /path") went, and what they answered. */
  const answered = (pattern: RegExp) => cluster.balancer.forwarded.filter((f) => pattern.test(`${f.method} ${f.path}`)).map((f) => `${NAMES[f.to]} ${f.status}`);

  it('a Chromium sign-in on A continues on B: consent there, with the cookies A set', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const request = await authorizationRequest(app.config, { redirect_uri: redirect, scope: 'openid contacts:read' });
    // Everything up to the sign-in goes to A, everything after it to B.
    let signedIn = false;
    cluster.balancer.route = ({ method, path: url }) => {
      if (signedIn) return B;
      if (method === 'POST' && /^\/interaction\/[^/]+\/login$/.test(url)) signedIn = true;
      return A;
    };
    const from = cluster.balancer.forwarded.length;
    try {
      await page.goto(request.url.toString());
      await signIn(page, bea);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((url) => url.href.startsWith(redirect));
    } finally {
      cluster.balancer.route = roundRobin(NAMES.length);
    }
    const flow = cluster.balancer.forwarded.slice(from).filter((f) => !f.path.startsWith('/assets/') && f.path !== '/favicon.ico');
    expect(flow.map((f) => `${NAMES[f.to]} ${f.method} ${f.path.replace(/\?.*/, '').replace(/\/(auth|interaction)\/[^/]+/, '/$1/:uid')} ${f.status}`)).toEqual([
      'A GET /auth 303',
      'A GET /interaction/:uid 200', // the login page
      'A POST /interaction/:uid/login 303',
      'B GET /auth/:uid 303',
      'B GET /interaction/:uid 200', // the consent page: B knew the session A started
      'B POST /interaction/:uid/consent 303',
      'B GET /auth/:uid 303', // back to the app with the code
    ]);
    const tokens = await on(A, () => client.authorizationCodeGrant(app.config, new URL(page.url()), { pkceCodeVerifier: request.verifier, expectedState: request.state }));
    expect(tokens.scope?.split(' ')).toContain('contacts:read');
    expect(await post(cluster.issuer, B, '/token/introspection', api, { token: tokens.access_token })).toMatchObject({ status: 200, body: { active: true, scope: 'contacts:read', aud: CONTACTS } });
    await context.close();
  });

  it('a code from A is redeemed on B; B refreshes and introspects what A issued; A revokes and B refuses at once', async () => {
    const request = await authorizationRequest(reader.config, { redirect_uri: DEMO.reader.redirectUris[1], scope: 'openid contacts:read' });
    const callback = await on(A, () => completeInteraction(new UserAgent(), request.url.toString(), DEMO.reader.redirectUris[1], alice));
    expect(callback.location).toContain('code=');
    const first = await on(B, () => client.authorizationCodeGrant(reader.config, new URL(callback.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state }));
    expect(answered(/^POST \/token$/).at(-1)).toBe('B 200');

    // Issued by A (a refresh there), refreshed by B.
    const fromA = await on(A, () => client.refreshTokenGrant(reader.config, first.refresh_token as string));
    const fromB = await on(B, () => client.refreshTokenGrant(reader.config, fromA.refresh_token as string));
    expect(answered(/^POST \/token$/).slice(-2)).toEqual(['A 200', 'B 200']);
    expect(fromB.refresh_token).not.toBe(fromA.refresh_token);

    // B describes A's access token to the API it is for.
    const apiConfig = await confidentialClient(cluster, api.id, api.secret);
    const onB = await on(B, () => client.tokenIntrospection(apiConfig, fromA.access_token));
    expect(onB).toMatchObject({ active: true, client_id: DEMO.reader.clientId, aud: CONTACTS, scope: 'contacts:read' });

    // A revokes B's access token; B's very next introspection says so.
    await on(A, () => client.tokenRevocation(reader.config, fromB.access_token));
    expect(answered(/^POST \/token\/revocation$/).at(-1)).toBe('A 200');
    expect(await on(B, () => client.tokenIntrospection(apiConfig, fromB.access_token))).toEqual({ active: false });
    // And the refresh token: revoked on A, refused on B.
    await on(A, () => client.tokenRevocation(reader.config, fromB.refresh_token as string));
    expect(await post(cluster.issuer, B, '/token', reader, { grant_type: 'refresh_token', refresh_token: fromB.refresh_token as string })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it('"Revoke access" on the connected-apps page through A: B refuses the refresh and introspects inactive', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const request = await authorizationRequest(app.config, { redirect_uri: redirect, scope: 'openid contacts:read' });
    const tokens = await on(B, async () => {
      await page.goto(request.url.toString());
      await signIn(page, bea);
      // Bea allowed this app before (first test): no consent page this time, unless asked.
      await page.getByRole('button', { name: 'Allow' }).or(page.getByText('back in the app')).waitFor();
      if (!page.url().startsWith(redirect)) await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((url) => url.href.startsWith(redirect));
      return client.authorizationCodeGrant(app.config, new URL(page.url()), { pkceCodeVerifier: request.verifier, expectedState: request.state });
    });
    // Live on both before.
    for (const to of [A, B]) expect((await post(cluster.issuer, to, '/token/introspection', api, { token: tokens.access_token })).body.active).toBe(true);

    await on(A, async () => {
      await page.goto(`${cluster.issuer}/account`);
      await page.getByRole('heading', { name: 'Connected apps' }).waitFor();
      await page.getByRole('button', { name: 'Revoke access for Both Ways' }).click();
      await page.getByRole('status').waitFor({ state: 'visible' });
      expect(await page.getByRole('status').innerText()).toContain('Access revoked');
    });
    expect(answered(/^POST \/account\/apps\/[^/]+\/revoke$/)).toEqual(['A 303']);

    expect(await post(cluster.issuer, B, '/token', app, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect(await post(cluster.issuer, B, '/token/introspection', api, { token: tokens.access_token })).toEqual({ status: 200, body: { active: false } });
    await context.close();
  });

  it('`latchkey keys rotate` reaches both instances within seconds: both publish and sign with the new key', async () => {
    const agent = new UserAgent();
    const request = await authorizationRequest(app.config, { redirect_uri: redirect, scope: 'openid jwt:read', resource: JWT_API });
    const callback = await on(A, () => completeInteraction(agent, request.url.toString(), redirect, alice));
    const before = await on(A, () => client.authorizationCodeGrant(app.config, new URL(callback.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state }));
    const oldKid = decodeProtectedHeader(before.access_token).kid as string;
    // One signing key, the shared one: neither B's nor the CLI's own file key.
    const [kidsA, kidsB] = await Promise.all(cluster.instances.map(kidsOf));
    expect(kidsA).toEqual([oldKid]);
    expect(kidsB).toEqual([oldKid]);
    expect(decodeProtectedHeader(before.id_token as string).kid).toBe(oldKid);
    for (const own of fileKeys.slice(1)) expect(own.signing[0]?.kid).not.toBe(oldKid);

    const rotated = await runCli(['keys', 'rotate', '--json'], cliEnv);
    expect(rotated.code, rotated.stderr).toBe(0);
    const rotatedAt = Date.now();
    const listed = JSON.parse(rotated.stdout) as Array<{ kind: string; id: string; status: string }>;
    const newKid = listed.find((k) => k.kind === 'signing' && k.status === 'active')?.id as string;
    expect(newKid).toBeTruthy();
    expect(newKid).not.toBe(oldKid);

    // Both publish it first, the old key after it, within the bound.
    const arrived: number[] = [];
    await Promise.all(
      cluster.instances.map(async (instance, index) => {
        while ((await kidsOf(instance))[0] !== newKid && Date.now() - rotatedAt < ROTATION_BOUND_MS) await new Promise((r) => setTimeout(r, 100));
        arrived[index] = Date.now() - rotatedAt;
      }),
    );
    for (const instance of cluster.instances) expect(await kidsOf(instance), instance.name).toEqual([newKid, oldKid]);
    for (const ms of arrived) expect(ms).toBeLessThan(ROTATION_BOUND_MS);
    console.info(`key rotation seen by A after ${arrived[A]} ms, by B after ${arrived[B]} ms (KEYS_POLL_SECONDS=1)`);

    // Each signs new ID tokens and JWT access tokens with it; every token verifies against
    // either instance's JWKS, the ones from before the rotation too.
    const keySets = await Promise.all(cluster.instances.map(async (instance) => createLocalJWKSet(await jwksOf(instance))));
    let refreshToken = before.refresh_token as string;
    const signed: string[] = [before.access_token, before.id_token as string];
    for (const to of [A, B]) {
      const next = await on(to, () => client.refreshTokenGrant(app.config, refreshToken));
      refreshToken = next.refresh_token as string;
      expect(decodeProtectedHeader(next.access_token).kid, `access token from ${NAMES[to]}`).toBe(newKid);
      expect(decodeProtectedHeader(next.id_token as string).kid, `ID token from ${NAMES[to]}`).toBe(newKid);
      signed.push(next.access_token, next.id_token as string);
    }
    for (const keySet of keySets) {
      for (const token of signed) await expect(jwtVerify(token, keySet, { issuer: cluster.issuer })).resolves.toBeTruthy();
    }

    // The cookie key rotated too: a session signed before is still accepted on B, and one
    // signed after (a new sign-in on A) is accepted on B.
    const straight = await authorizationRequest(app.config, { redirect_uri: redirect, scope: 'openid jwt:read', resource: JWT_API });
    expect((await on(B, () => agent.follow(straight.url.toString(), redirect))).location).toContain('code=');
    const fresh = new UserAgent();
    const signInOnA = await authorizationRequest(app.config, { redirect_uri: redirect, scope: 'openid jwt:read', resource: JWT_API });
    const page = await on(A, () => fresh.follow(signInOnA.url.toString(), redirect));
    const loggedIn = await on(A, () => fresh.request(new URL(formAction(page.body, '/login'), page.url).toString(), { form: { csrf: hiddenField(page.body, 'csrf'), ...alice } }));
    expect(loggedIn.status).toBe(303);
    expect((await on(B, () => fresh.follow(loggedIn.location as string, redirect))).location).toContain('code=');
  });

  it('ten concurrent refreshes of one token, split over A and B: one successor pair, and it works', async () => {
    const request = await authorizationRequest(reader.config, { redirect_uri: DEMO.reader.redirectUris[1], scope: 'openid contacts:read' });
    const callback = await completeInteraction(new UserAgent(), request.url.toString(), DEMO.reader.redirectUris[1], alice);
    const tokens = await client.authorizationCodeGrant(reader.config, new URL(callback.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state });
    const refresh = tokens.refresh_token as string;

    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => post(cluster.issuer, i % 2, '/token', reader, { grant_type: 'refresh_token', refresh_token: refresh })));
    expect(results.filter((r) => r.status >= 500)).toEqual([]);
    for (const loser of results.filter((r) => r.status !== 200)) expect(loser).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const successes = results.map((r, i) => ({ ...r, on: NAMES[i % 2] })).filter((r) => r.status === 200);
    // One successor pair, whoever answered; handed out at most 1 + MAX_GRACE_REPLAYS times.
    expect(new Set(successes.map((r) => r.body.refresh_token)).size).toBe(1);
    expect(new Set(successes.map((r) => r.body.access_token)).size).toBe(1);
    expect(successes.length).toBeGreaterThanOrEqual(1);
    expect(successes.length).toBeLessThanOrEqual(1 + MAX_GRACE_REPLAYS);
    console.info(`concurrent refresh: ${successes.length} × the same pair (${successes.map((r) => r.on).join('')}), ${results.length - successes.length} invalid_grant`);

    // Retries beyond the cap end nothing: the successor works, once, on either instance.
    const successor = successes[0]?.body.refresh_token as string;
    expect((await post(cluster.issuer, B, '/token/introspection', api, { token: successes[0]?.body.access_token as string })).body.active).toBe(true);
    const next = await post(cluster.issuer, A, '/token', reader, { grant_type: 'refresh_token', refresh_token: successor });
    expect(next.status).toBe(200);
    expect((await post(cluster.issuer, B, '/token', reader, { grant_type: 'refresh_token', refresh_token: next.body.refresh_token as string })).status).toBe(200);
  });

  it('failed sign-ins on A count on B: the back-off starts after LOGIN_FREE_ATTEMPTS failures, wherever they happened', async () => {
    const agent = new UserAgent();
    const request = await authorizationRequest(reader.config, { redirect_uri: DEMO.reader.redirectUris[1], scope: 'openid contacts:read' });
    const page = await on(A, () => agent.follow(request.url.toString(), DEMO.reader.redirectUris[1]));
    const action = new URL(formAction(page.body, '/login'), page.url).toString();
    const csrf = hiddenField(page.body, 'csrf');
    const attempt = (to: number, password: string) => agent.request(action, { form: { csrf, email: theo.email, password }, headers: { [TARGET_HEADER]: String(to) } });

    // LOGIN_FREE_ATTEMPTS=3: three failures, the fourth let through once (it starts the back-off).
    expect((await attempt(A, 'wrong 1')).status).toBe(401);
    expect((await attempt(A, 'wrong 2')).status).toBe(401);
    expect((await attempt(B, 'wrong 3')).status).toBe(401);
    expect((await attempt(A, 'wrong 4')).status).toBe(401);
    // B itself saw one failure; it counts all four, and refuses even the right password.
    const onB = await attempt(B, theo.password);
    expect(onB.status).toBe(429);
    expect(Number(onB.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await attempt(A, theo.password)).status).toBe(429);
    expect(answered(/^POST \/interaction\/[^/]+\/login$/).slice(-6)).toEqual(['A 401', 'A 401', 'B 401', 'A 401', 'B 429', 'A 429']);
  });
});

describe('two instances started at once on an empty database', () => {
  it('migrate and seed it once, and both serve', async () => {
    const database = await freshDatabase('pg');
    const keyFiles = [keysPath(), keysPath()];
    writeKeyFile(keyFiles[A] as string, generateKeyMaterial());
    copyDataKey(keyFiles[A] as string, keyFiles[B] as string);
    const cluster = await startCluster({ names: NAMES, keysFiles: keyFiles, env: { DATABASE_URL: database.url } });
    const admin = new pg.Client({ connectionString: database.url });
    try {
      const instances = [cluster.start(A), cluster.start(B)];
      await Promise.all(instances.map((instance) => instanceReady(instance)));
      for (const instance of instances) {
        expect(instance.server.child.exitCode, instance.name).toBeNull();
        expect(instance.server.output(), instance.name).not.toMatch(/failed to start|23505|duplicate key/);
      }
      const lines = (message: string) => instances.map((instance) => instance.server.output().split('\n').filter((line) => line.includes(`"msg":"${message}"`)).length);
      // Exactly one of them did the work; the other found it done.
      expect(lines('database migrated').sort()).toEqual([0, 1]);
      expect(lines('demo data seeded').sort()).toEqual([0, 1]);
      expect(keyFiles.map((file) => fs.existsSync(path.join(path.dirname(file), 'demo-credentials.json'))).filter(Boolean)).toHaveLength(1);

      await admin.connect();
      const count = async (sql: string) => Number((await admin.query<{ n: string }>(sql)).rows[0]?.n);
      expect(await count('SELECT count(*) AS n FROM users')).toBe(1);
      expect(await count(`SELECT count(*) AS n FROM users WHERE email = '${DEMO.user.email}'`)).toBe(1);
      expect(await count("SELECT count(*) AS n FROM clients WHERE source = 'seed'")).toBe(3);
      expect(await count('SELECT count(*) AS n FROM knex_migrations')).toBe(await count('SELECT count(DISTINCT name) AS n FROM knex_migrations'));
      expect(await count('SELECT version AS n FROM key_material')).toBe(1);

      // One set of signing keys, published by both; and both answer tokens the other can read.
      const [kidsA, kidsB] = await Promise.all(instances.map(kidsOf));
      expect(kidsA).toEqual(kidsB);
      const seeded = keyFiles.find((file) => fs.existsSync(path.join(path.dirname(file), 'demo-credentials.json'))) as string;
      const demo = readDemoCredentials(seeded);
      const sync = { id: DEMO.sync.clientId, secret: demo[DEMO.sync.clientId] as string };
      const api = { id: DEMO.contactsApi.introspectionClientId, secret: demo[DEMO.contactsApi.introspectionClientId] as string };
      for (const [issuedOn, readOn] of [[A, B], [B, A]] as const) {
        const issued = await post(cluster.issuer, issuedOn, '/token', sync, { grant_type: 'client_credentials', scope: 'contacts:read' });
        expect(issued.status).toBe(200);
        expect((await post(cluster.issuer, readOn, '/token/introspection', api, { token: issued.body.access_token as string })).body).toMatchObject({ active: true });
      }
    } finally {
      await admin.end().catch(() => undefined);
      await cluster.stop();
      await database.drop();
      for (const file of keyFiles) fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});

async function signIn(page: Page, person: { email: string; password: string }) {
  await page.getByLabel('Email address').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
