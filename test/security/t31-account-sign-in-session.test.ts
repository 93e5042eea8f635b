// T31 session hygiene for the account area's own sign-in (/account/sign-in), which writes the
// provider's login session itself (routes/account-session.ts): signing in there issues a new
// session cookie value (a value from before the sign-in never becomes a signed-in session: no
// fixation), and the cookie is the one the provider sets at an interaction login: same name,
// flags and path, expiring with the session. Under TLS every cookie it sets is Secure, the
// session cookie the provider's __Host- one, the form's own __Secure- and scoped to /account.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent, type PageResponse } from '../helpers/user-agent.ts';
import { STORES } from '../helpers/databases.ts';
import { isDeletion, parseSetCookies, type SetCookie } from './pages-support.ts';

const RIGHT = 'the right password 1';

describe.each(STORES)('T31 session hygiene of the account sign-in (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let reader: client.Configuration;
  let people = 0;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
  });
  afterAll(async () => h?.close());

  async function person() {
    people += 1;
    const created = await h.management.accounts.create({ email: `hygiene${people}-${store}@example.com`, password: RIGHT });
    return { id: created.id, email: created.email, password: RIGHT };
  }

  /** Our sign-in page, where /account sends a browser without a session. */
  async function signInPage(agent: UserAgent): Promise<PageResponse> {
    const start = await agent.request(h.url('/account'));
    expect(start.location).toBe(h.url('/account/sign-in'));
    return agent.request(start.location as string);
  }

  function postSignIn(agent: UserAgent, page: PageResponse, email: string, password: string) {
    return agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), { form: { csrf: hiddenField(page.body, 'csrf'), email, password } });
  }

  /** What a silent authorization request in this browser tells the client. */
  async function silently(agent: UserAgent, config: client.Configuration) {
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read', prompt: 'none' });
    const answer = await agent.request(request.url.toString());
    const callback = new URL(answer.location as string);
    return callback.searchParams.get('error') ?? (callback.searchParams.get('code') ? 'code' : 'nothing');
  }

  it('signing in issues a new session cookie like the provider\'s own; the value from before is not signed in', async () => {
    const who = await person();
    const agent = new UserAgent();
    // A session cookie from before sign-in (the provider creates one for a logout request).
    await agent.request(h.url('/session/end'));
    const sessionCookie = (a: UserAgent) => new Map(a.cookieHeader(h.url('/')).split('; ').map((pair) => pair.split('=') as [string, string]));
    const before = sessionCookie(agent);
    expect(before.get('latchkey.session')).toBeDefined();

    const page = await signInPage(agent);
    const posted = await postSignIn(agent, page, who.email, who.password);
    expect(posted.status).toBe(303);
    const after = sessionCookie(agent);
    expect(after.get('latchkey.session')).not.toBe(before.get('latchkey.session'));
    expect(await silently(agent, reader)).not.toBe('login_required');
    const withOld = await fetch((await authorizationRequest(reader, { redirect_uri: REDIRECT, scope: 'openid', prompt: 'none' })).url, {
      headers: { cookie: `latchkey.session=${before.get('latchkey.session')}; latchkey.session.sig=${before.get('latchkey.session.sig')}` },
      redirect: 'manual',
    });
    expect(new URL(withOld.headers.get('location') as string).searchParams.get('error')).toBe('login_required');

    // The cookie is the one the provider sets at an interaction login: same name, flags, path,
    // and an expiry at the session's end (SESSION_TTL, one day by default).
    const ours = sessionSetCookies(posted);
    const providers = await interactionSessionCookies(await person());
    expect(ours.map((c) => c.name).sort()).toEqual(providers.map((c) => c.name).sort());
    for (const [mine, theirs] of ours.map((c) => [c, providers.find((p) => p.name === c.name) as SetCookie] as const)) {
      expect([...mine.attributes.keys()].sort(), mine.raw).toEqual([...theirs.attributes.keys()].sort());
      for (const attribute of ['path', 'samesite', 'httponly']) expect(mine.attributes.get(attribute), mine.raw).toBe(theirs.attributes.get(attribute));
      const expires = Date.parse(mine.attributes.get('expires') as string);
      expect(Math.abs(expires - (Date.now() + h.config.ttl.session * 1000))).toBeLessThan(60_000);
    }
  });

  function sessionSetCookies(response: PageResponse): SetCookie[] {
    return parseSetCookies(response.headers).filter((c) => c.name.startsWith('latchkey.session') && !isDeletion(c));
  }

  /** The session cookies the provider sets when `who` signs in to an app. */
  async function interactionSessionCookies(who: { email: string; password: string }): Promise<SetCookie[]> {
    const agent = new UserAgent();
    const request = await authorizationRequest(reader, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const login = await agent.follow(request.url.toString(), REDIRECT);
    const posted = await agent.request(new URL(formAction(login.body, '/login'), login.url).toString(), { form: { csrf: hiddenField(login.body, 'csrf'), email: who.email, password: who.password } });
    const resumed = await agent.request(posted.location as string);
    const cookies = sessionSetCookies(resumed);
    expect(cookies.length).toBeGreaterThan(0);
    return cookies;
  }

});

// Under TLS (an https issuer, TLS ended at a proxy), as T31 checks it for the interaction login:
// every cookie the account sign-in sets is Secure, HttpOnly and SameSite=Lax, the session cookie
// is the provider's __Host- one, the form's own is __Secure- and scoped to /account.
const PUBLIC_ISSUER = 'https://latchkey.test';

/** A user agent reaching the server through a TLS-terminating proxy at PUBLIC_ISSUER. */
class BehindTlsProxy extends UserAgent {
  constructor(private readonly local: string) {
    super();
  }

  override async request(url: string, init: Parameters<UserAgent['request']>[1] = {}) {
    const target = url.startsWith(PUBLIC_ISSUER) ? `${this.local}${url.slice(PUBLIC_ISSUER.length)}` : url;
    const answer = await super.request(target, { ...init, headers: { 'x-forwarded-proto': 'https', ...init.headers } });
    if (answer.location?.startsWith(PUBLIC_ISSUER)) answer.location = `${this.local}${answer.location.slice(PUBLIC_ISSUER.length)}`;
    return answer;
  }
}

describe.each(STORES)('T31 cookies of the account sign-in under TLS (%s)', (store) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startServer({ store, env: { ISSUER: PUBLIC_ISSUER, TRUST_PROXY: 'true', ALLOW_DEV_ON_PUBLIC_ISSUER: 'true' } });
  });
  afterAll(async () => h?.close());

  it('sets only Secure cookies: the provider\'s __Host- session cookie and a __Secure- form cookie on /account', async () => {
    const who = await h.management.accounts.create({ email: `tls-${store}@example.com`, password: RIGHT });
    const agent = new BehindTlsProxy(h.issuer);
    const start = await agent.request(h.url('/account'));
    expect(start.status).toBe(303);
    const page = await agent.request(start.location as string);
    expect(page.status).toBe(200);
    const posted = await agent.request(h.url('/account/login'), { form: { csrf: hiddenField(page.body, 'csrf'), email: who.email, password: RIGHT } });
    expect(posted.status).toBe(303);
    expect((await agent.request(h.url('/account'))).status).toBe(200);

    const set = [...parseSetCookies(page.headers), ...parseSetCookies(posted.headers)].filter((c) => !isDeletion(c));
    for (const cookie of set) {
      expect(cookie.attributes.has('secure'), cookie.raw).toBe(true);
      expect(cookie.attributes.has('httponly'), cookie.raw).toBe(true);
      expect(cookie.attributes.get('samesite')?.toLowerCase(), cookie.raw).toBe('lax');
      expect(cookie.attributes.has('domain'), cookie.raw).toBe(false);
      expect(cookie.name, cookie.raw).toMatch(/^__(Host|Secure)-/);
      if (cookie.name.startsWith('__Host-')) expect(cookie.attributes.get('path'), cookie.raw).toBe('/');
    }
    const names = set.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['__Host-latchkey.session', '__Host-latchkey.session.sig', '__Secure-latchkey.sign-in']));
    expect(set.find((c) => c.name === '__Secure-latchkey.sign-in')?.attributes.get('path')).toBe('/account');
  });
});
