// T41 for the account area's own sign-in (/account/sign-in): a wrong password there is
// throttled exactly like at the interaction login (T41, security/login-throttle.ts), because it
// is the same attempt (routes/password-sign-in.ts): the same budgets, shared both ways, so
// guessing cannot move from one form to the other; the same statuses, Retry-After and words;
// the per-account cap for guesses from many addresses; the device cookie that lets a browser
// which signed in before past a stranger's guesses; one answer for unknown and wrong.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { STORES } from '../helpers/databases.ts';

const RIGHT = 'the right password 1';

describe.each(STORES)('T41 login throttling on the account sign-in (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let reader: client.Configuration;
  let people = 0;

  beforeAll(async () => {
    // The budgets of t41-login-throttling.test.ts, small enough to watch.
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
    reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
  });
  afterAll(async () => h?.close());

  async function person() {
    people += 1;
    const created = await h.management.accounts.create({ email: `guessed${people}-${store}@example.com`, password: RIGHT });
    return { id: created.id, email: created.email, password: RIGHT };
  }

  /** A fresh /account sign-in form (in a fresh browser unless one is given); posts credentials to it. */
  async function accountForm(ip = '198.51.100.7', agent = new UserAgent()) {
    const start = await agent.request(h.url('/account'));
    expect(start.location).toBe(h.url('/account/sign-in'));
    const page = await agent.request(start.location as string);
    const action = new URL(formAction(page.body, '/login'), page.url).toString();
    expect(action).toBe(h.url('/account/login'));
    const csrf = hiddenField(page.body, 'csrf');
    return (email: string, password: string) => agent.request(action, { form: { csrf, email, password }, headers: { 'x-forwarded-for': ip } });
  }

  /** A fresh interaction login form for an app, as t41-login-throttling.test.ts drives it. */
  async function interactionForm(ip = '198.51.100.7', agent = new UserAgent()) {
    const request = await authorizationRequest(reader, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const page = await agent.follow(request.url.toString(), REDIRECT);
    const action = new URL(formAction(page.body, '/login'), page.url).toString();
    expect(action).toMatch(/\/interaction\/[^/]+\/login$/);
    const csrf = hiddenField(page.body, 'csrf');
    return (email: string, password: string) => agent.request(action, { form: { csrf, email, password }, headers: { 'x-forwarded-for': ip } });
  }

  const errorOf = (body: string) => /role="alert"[^>]*>([^<]*)</.exec(body)?.[1];

  it('backs off after the same number of failures, with the same answer, then recovers', async () => {
    const who = await person();
    const post = await accountForm();
    for (let i = 0; i < 3; i += 1) expect((await post(who.email, 'wrong')).status).toBe(401);
    // The 4th failure is let through once and starts the back-off; the 5th must wait.
    const fourth = await post(who.email, 'wrong');
    expect(fourth.status).toBe(401);
    expect(errorOf(fourth.body)).toBe('Incorrect email or password.');
    const throttled = await post(who.email, RIGHT);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(errorOf(throttled.body)).toMatch(/^Too many failed sign-in attempts\. Wait \d+ seconds and try again\.$/);
    // The interaction login, from the same address, is held by the same budget, with the same words.
    const elsewhere = await (await interactionForm())(who.email, RIGHT);
    expect(elsewhere.status).toBe(429);
    expect(errorOf(elsewhere.body)?.replace(/\d+/, 'N')).toBe(errorOf(throttled.body)?.replace(/\d+/, 'N'));
    // Still signed out: /account asks for a sign-in.
    expect((await new UserAgent().request(h.url('/account'))).location).toBe(h.url('/account/sign-in'));

    await new Promise((r) => setTimeout(r, 4500));
    expect((await post(who.email, RIGHT)).status).toBe(303);
  });

  it('failures at the interaction login count on /account, and the other way round', async () => {
    const first = await person();
    const app = await interactionForm('198.51.100.21');
    for (let i = 0; i < 4; i += 1) expect((await app(first.email, 'wrong')).status).toBe(401);
    expect((await (await accountForm('198.51.100.21'))(first.email, RIGHT)).status).toBe(429);

    const second = await person();
    const account = await accountForm('198.51.100.22');
    for (let i = 0; i < 4; i += 1) expect((await account(second.email, 'wrong')).status).toBe(401);
    expect((await (await interactionForm('198.51.100.22'))(second.email, RIGHT)).status).toBe(429);
  });

  it('guesses from many addresses hit the per-account cap on /account as at the interaction login', async () => {
    const who = await person();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await (await accountForm(`203.0.113.${i + 40}`))(who.email, 'wrong')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429, 429, 429]);
  });

  it('a browser that signed in before is let in on /account despite a stranger\'s guesses (device cookie)', async () => {
    const who = await person();
    // Her browser signed in once (to an app), then signed out: it keeps its device cookie.
    const hers = new UserAgent();
    await codeFlow(reader, who, { redirect_uri: REDIRECT, scope: 'openid contacts:read' }, hers);
    const logout = await hers.request(h.url('/session/end'));
    expect((await hers.request(h.url('/session/end/confirm'), { form: { xsrf: hiddenField(logout.body, 'xsrf'), logout: 'yes' } })).status).toBe(303);
    // A stranger on her address spends every budget of her account.
    const stranger = await accountForm('198.51.100.30');
    for (let i = 0; i < 6; i += 1) expect([401, 429]).toContain((await stranger(who.email, 'wrong')).status);
    expect((await (await accountForm('198.51.100.30'))(who.email, RIGHT)).status).toBe(429);
    // Her browser, from the same address, gets in at once.
    expect((await (await accountForm('198.51.100.30', hers))(who.email, RIGHT)).status).toBe(303);
  });

  it('an unknown email and a wrong password get the same answer', async () => {
    const post = await accountForm('198.51.100.40');
    const unknown = await post(`nobody${people}-${store}@example.com`, 'not the password');
    const wrong = await post(f.user.email, 'not the password');
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(errorOf(unknown.body)).toBe(errorOf(wrong.body));
    const empty = await post('', '');
    expect(empty.status).toBe(400);
    expect(errorOf(empty.body)).toBe('Enter your email address and password.');
  });
});
