// T41 login throttling and no enumeration (ASVS 6.1.1, 6.3.1; Keycloak brute-force notes; OWASP
// device cookies): temporary exponential back-off per (account, address) and per address, a slow
// per-account cap that a browser which signed in before is not held to, never a lockout a
// stranger can impose, successful sign-ins never counted, one generic message, and no limit
// overrun by parallel guesses.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T41 login throttling (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({
      store,
      env: {
        TRUST_PROXY: 'true',
        LOGIN_FREE_ATTEMPTS: '3',
        LOGIN_BACKOFF_SECONDS: '2',
        LOGIN_BACKOFF_MAX_SECONDS: '4',
        LOGIN_IP_ATTEMPTS: '40',
        LOGIN_ACCOUNT_ATTEMPTS: '3',
      },
    });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  /** A fresh login page (in a fresh browser unless one is given); returns a function posting credentials to it. */
  async function loginForm(ip = '198.51.100.7', agent = new UserAgent()) {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const page = await agent.follow(request.url.toString(), REDIRECT);
    const action = new URL(formAction(page.body, '/login'), page.url).toString();
    const csrf = hiddenField(page.body, 'csrf');
    return (email: string, password: string) => agent.request(action, { form: { csrf, email, password }, headers: { 'x-forwarded-for': ip } });
  }

  const errorOf = (body: string) => /role="alert"[^>]*>([^<]*)</.exec(body)?.[1];

  it('(a) backs off after repeated failures, refuses even the right password meanwhile, then recovers', async () => {
    const user = await h.management.accounts.create({ email: `erin-${store}@example.com`, password: 'erin right password' });
    const post = await loginForm();
    for (let i = 0; i < 3; i += 1) expect((await post(user.email, 'wrong')).status).toBe(401);
    // 4th failure is let through once and starts the back-off; the 5th must wait.
    expect((await post(user.email, 'wrong')).status).toBe(401);
    const throttled = await post(user.email, 'erin right password');
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(errorOf(throttled.body)).toMatch(/Too many failed sign-in attempts/);
    // Same answer whatever the password during the back-off: nothing to learn.
    const wrongDuring = await post(user.email, 'wrong again');
    expect(wrongDuring.status).toBe(429);
    expect(errorOf(wrongDuring.body)).toMatch(/Too many failed sign-in attempts/);

    await new Promise((r) => setTimeout(r, 4500));
    const after = await post(user.email, 'erin right password');
    expect(after.status).toBe(303);
  });

  it('(b) guesses from many addresses at one account are slowed by the per-account cap', async () => {
    const user = await h.management.accounts.create({ email: `gina-${store}@example.com`, password: 'gina right password' });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await (await loginForm(`203.0.113.${i + 10}`))(user.email, 'wrong')).status);
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
    expect(statuses.slice(4)).toEqual([429, 429, 429, 429]);
  });

  it('(c) one address guessing across many accounts is stopped per IP', async () => {
    const post = await loginForm('192.0.2.99');
    const statuses: number[] = [];
    for (let i = 0; i < 45; i += 1) statuses.push((await post(`victim${i}-${store}@example.com`, 'wrong')).status);
    expect(statuses.slice(0, 40).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(40)).toEqual([429, 429, 429, 429, 429]);
    // Another address is not affected.
    expect((await (await loginForm('192.0.2.100'))(f.user.email, f.user.password)).status).toBe(303);
  });

  it('(d) parallel wrong passwords cannot overrun the limit', async () => {
    const user = await h.management.accounts.create({ email: `frank-${store}@example.com`, password: 'frank right password' });
    const posts = await Promise.all(Array.from({ length: 12 }, () => loginForm()));
    const results = await Promise.all(posts.map((post) => post(user.email, 'wrong')));
    // At most the free attempts plus the one allowed per back-off window were checked at all.
    expect(results.filter((r) => r.status === 401).length).toBeLessThanOrEqual(4);
    expect(results.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(8);
    expect(results.every((r) => r.status < 500)).toBe(true);
  });

  it('(e) unknown account and wrong password look the same', async () => {
    const post = await loginForm();
    const timed = async (email: string) => {
      const started = performance.now();
      const response = await post(email, 'not the password');
      return { response, ms: performance.now() - started };
    };
    const unknown = await timed(`nobody-${store}@example.com`);
    const wrong = await timed(f.user.email);
    expect(unknown.response.status).toBe(wrong.response.status);
    expect(errorOf(unknown.response.body)).toBe(errorOf(wrong.response.body));
    // Both paths run the password hash: the unknown account is not answered faster.
    expect(unknown.ms).toBeGreaterThan(wrong.ms * 0.5);
  });

  /**
   * Users created with a cheap scrypt cost (the stored hash carries its parameters): these tests
   * are about how sign-ins are counted, not about the hash, and hundreds of default-cost hashes
   * would take most of a minute.
   */
  async function cheapUsers(prefix: string, count: number, password: string): Promise<string[]> {
    const rows = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const salt = crypto.randomBytes(16);
        const key = await new Promise<Buffer>((resolve, reject) => crypto.scrypt(password.normalize('NFKC'), salt, 32, { N: 1024, r: 8, p: 1 }, (e, k) => (e ? reject(e) : resolve(k))));
        return {
          id: crypto.randomUUID(),
          email: `${prefix}${i}-${store}@example.com`,
          name: null,
          email_verified: true,
          password_hash: `scrypt$1024$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`,
          created_at: Date.now(),
          disabled_at: null,
        };
      }),
    );
    await h.db.batchInsert('users', rows, 100);
    return rows.map((r) => r.email);
  }

  /** Runs `work` over `items` with at most `limit` at a time. */
  async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = [];
    for (let at = 0; at < items.length; at += limit) results.push(...(await Promise.all(items.slice(at, at + limit).map(work))));
    return results;
  }

  it('(g) a stranger cannot keep a user out: after 50 wrong passwords from 10 addresses, a browser that signed in before gets in at once, a fresh one after at most one wait', async () => {
    const [email] = await cheapUsers('hana', 1, 'hana right password');
    const password = 'hana right password';
    // Hana's own browser signed in once before the attack, from her usual address.
    const hers = new UserAgent();
    expect((await (await loginForm('198.51.100.200', hers))(email as string, password)).status).toBe(303);

    const attackers = Array.from({ length: 10 }, (_, i) => `203.0.113.${100 + i}`);
    // Her address is one of the attacker's (a shared network).
    attackers[0] = '198.51.100.200';
    const statuses: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      for (const ip of attackers) statuses.push((await (await loginForm(ip))(email as string, `guess ${round} ${ip}`)).status);
    }
    expect(statuses).toHaveLength(50);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(30);

    // Her browser: at once, from the shared address.
    expect((await (await loginForm('198.51.100.200', hers))(email as string, password)).status).toBe(303);

    // A fresh browser from a fresh address: at most one back-off wait, then in.
    const fresh = await loginForm('192.0.2.201');
    const first = await fresh(email as string, password);
    if (first.status === 429) {
      const wait = Number(first.headers.get('retry-after'));
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(4);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 200));
      expect((await (await loginForm('192.0.2.201'))(email as string, password)).status).toBe(303);
    } else {
      expect(first.status).toBe(303);
    }
  });

  it('(h) successful sign-ins never count: one user signed in 80 times, 8 at a time, from one address', async () => {
    const [email] = await cheapUsers('ivan', 1, 'ivan right password');
    const forms = await inBatches(Array.from({ length: 80 }, () => '198.51.100.80'), 8, (ip) => loginForm(ip));
    const results = await inBatches(forms, 8, (post) => post(email as string, 'ivan right password'));
    expect(results.map((r) => r.status)).toEqual(Array(80).fill(303));
  });

  it('(i) 200 people behind one address, each signing in once, all get in (default per-address budget)', async () => {
    // A server with the default budgets (LOGIN_IP_ATTEMPTS 100 per 15 min, 5 free per pair).
    const office = await startServer({ store, env: { TRUST_PROXY: 'true' }, sameDatabaseAs: h });
    try {
      const emails = await cheapUsers('staff', 200, 'staff password 1');
      const statuses = await inBatches(emails, 10, async (email) => {
        const agent = new UserAgent();
        const config = await confidentialClient(office, f.reader.clientId, f.reader.clientSecret);
        const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
        const page = await agent.follow(request.url.toString(), REDIRECT);
        const action = new URL(formAction(page.body, '/login'), page.url).toString();
        const answer = await agent.request(action, { form: { csrf: hiddenField(page.body, 'csrf'), email, password: 'staff password 1' }, headers: { 'x-forwarded-for': '198.51.100.250' } });
        return answer.status;
      });
      expect(statuses).toEqual(Array(200).fill(303));
    } finally {
      await office.close();
    }
  });
});
