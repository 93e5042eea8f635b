// T41 login throttling and no enumeration (ASVS 6.1.1, 6.3.1; Keycloak brute-force notes):
// temporary exponential back-off per account and per client IP, never a permanent lockout,
// one generic message, and no limit overrun by parallel guesses.
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
      env: { TRUST_PROXY: 'true', LOGIN_FREE_ATTEMPTS: '3', LOGIN_BACKOFF_SECONDS: '2', LOGIN_BACKOFF_MAX_SECONDS: '4', LOGIN_IP_ATTEMPTS: '40' },
    });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  /** A fresh login page in a fresh browser; returns a function posting credentials to it. */
  async function loginForm(ip = '198.51.100.7') {
    const agent = new UserAgent();
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

  it('(b) the per-account back-off holds when the guesses come from many addresses', async () => {
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
});
