// T23 forwarded headers cannot change the issuer (RFC 9700 §4.13; Koa `app.proxy` trusts
// X-Forwarded-* from anyone).
//
// Two servers per store:
// - "proxied": TRUST_PROXY on and ISSUER https://latchkey.test, the production shape behind a
//   TLS-terminating proxy. Requests arrive directly (bypassing the proxy) with
//   `X-Forwarded-Host: evil.example`, `X-Forwarded-Proto: http` and `Forwarded: host=evil.example`.
// - "direct": the default, proxy trust off; the same headers must simply be ignored, and so must a
//   `Host: evil.example` header (the one header that names a host when no proxy is trusted).
// Expected everywhere: the issuer and every endpoint in the metadata stay on the configured
// issuer; no Location header and no form action mentions evil.example through a whole sign-in
// (authorization request, login page, login POST, consent, back to the client with
// iss = the issuer); and on the https issuer every cookie keeps `Secure`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { formAction, hiddenField, UserAgent, type PageResponse } from '../helpers/user-agent.ts';
import { authParams, rawHttp, responseParams, target } from './support.ts';

const PUBLIC_ISSUER = 'https://latchkey.test';
const FORGED = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http', forwarded: 'host=evil.example;proto=http' };

/** Every URL-valued member of a discovery document. */
function urlsIn(metadata: Record<string, unknown>): string[] {
  return Object.values(metadata).filter((v): v is string => typeof v === 'string' && /^[a-z]+:\/\//i.test(v));
}

describe.each(STORES)('T23 forwarded headers cannot change the issuer (%s)', (store) => {
  let proxied: Harness;
  let direct: Harness;
  let pf: Fixtures;
  let df: Fixtures;

  beforeAll(async () => {
    // A test server on a public-looking issuer: development mode must be allowed explicitly.
    proxied = await startServer({ store, env: { TRUST_PROXY: 'true', ISSUER: PUBLIC_ISSUER, ALLOW_DEV_ON_PUBLIC_ISSUER: 'true' } });
    pf = await createFixtures(proxied);
    direct = await startServer({ store });
    df = await createFixtures(direct);
  });
  afterAll(async () => {
    await proxied?.close();
    await direct?.close();
  });

  async function discovery(h: Harness, headers: Record<string, string>) {
    const response = await rawHttp(h.url('/.well-known/openid-configuration'), { headers });
    expect(response.status).toBe(200);
    expect(response.body).not.toContain('evil');
    return JSON.parse(response.body) as Record<string, unknown>;
  }

  /**
   * A whole sign-in with `headers` added to every request; collects every Location, form action
   * and Set-Cookie on the way, and returns the final redirect to the client.
   */
  async function signIn(h: Harness, f: Fixtures, headers: Record<string, string>) {
    const agent = new UserAgent();
    const seen: { locations: string[]; actions: string[]; cookies: string[]; statuses: number[] } = { locations: [], actions: [], cookies: [], statuses: [] };
    const record = (page: PageResponse) => {
      seen.statuses.push(page.status);
      const raw = page.headers.get('location');
      if (raw) seen.locations.push(raw);
      seen.actions.push(...[...page.body.matchAll(/<form[^>]*action="([^"]*)"/g)].map((m) => m[1] as string));
      seen.cookies.push(...page.headers.getSetCookie());
      return page;
    };
    // Relative redirects stay on the server we talk to; absolute ones are followed only if they do.
    const next = (page: PageResponse) => {
      const raw = page.headers.get('location') as string;
      return new URL(new URL(raw, h.issuer).pathname + new URL(raw, h.issuer).search, h.issuer).toString();
    };
    const { params, state } = authParams(f.reader.clientId, REDIRECT, 'openid contacts:read');
    let page = record(await agent.request(h.url(`/auth?${params}`), { headers }));
    for (let step = 0; step < 8 && page.status !== 200 && page.location && !page.location.startsWith(REDIRECT); step += 1) {
      page = record(await agent.request(next(page), { headers }));
      if (page.status === 200 && page.body.includes('/login"')) {
        const action = new URL(formAction(page.body, '/login'), h.issuer).pathname;
        page = record(await agent.request(h.url(action), { headers, form: { csrf: hiddenField(page.body, 'csrf'), email: f.user.email, password: f.user.password } }));
      } else if (page.status === 200 && page.body.includes('/consent"')) {
        const action = new URL(formAction(page.body, '/consent'), h.issuer).pathname;
        page = record(await agent.request(h.url(action), { headers, form: { csrf: hiddenField(page.body, 'csrf') } }));
      }
    }
    return { seen, final: page, state };
  }

  describe('proxy trust on (https issuer behind a TLS-terminating proxy)', () => {
    it('discovery: issuer and endpoints stay on the configured issuer', async () => {
      for (const headers of <Array<Record<string, string>>>[
        FORGED,
        { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
        { forwarded: 'host=evil.example;proto=https' },
        { 'x-forwarded-host': 'latchkey.test, evil.example', 'x-forwarded-proto': 'https' },
      ]) {
        const metadata = await discovery(proxied, headers);
        expect(metadata.issuer).toBe(PUBLIC_ISSUER);
        expect(urlsIn(metadata).filter((url) => url !== PUBLIC_ISSUER && !url.startsWith(`${PUBLIC_ISSUER}/`))).toEqual([]);
      }
    });

    it('a whole sign-in with a forged host (the proxy sets the scheme): no Location or form action names evil.example', async () => {
      const { seen, final, state } = await signIn(proxied, pf, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
      expect(seen.locations.filter((l) => l.includes('evil'))).toEqual([]);
      expect(seen.actions.filter((a) => a.includes('evil'))).toEqual([]);
      expect(seen.cookies.filter((c) => !/;\s*secure/i.test(c))).toEqual([]);
      expect(target(final.location as string)).toBe(REDIRECT);
      expect(responseParams(final.location as string).get('iss')).toBe(PUBLIC_ISSUER);
      expect(responseParams(final.location as string).get('state')).toBe(state);
    });

    it('a whole sign-in with a forged scheme and host (X-Forwarded-Proto: http): cookies stay Secure, no server error', async () => {
      const { seen, final } = await signIn(proxied, pf, FORGED);
      expect(seen.locations.filter((l) => l.includes('evil'))).toEqual([]);
      expect(seen.actions.filter((a) => a.includes('evil'))).toEqual([]);
      // Never a cookie without Secure on an https issuer...
      expect(seen.cookies.filter((c) => !/;\s*secure/i.test(c))).toEqual([]);
      // ...and the scheme comes from the configured issuer, not from the request: the sign-in works.
      expect(seen.statuses.filter((s) => s >= 500)).toEqual([]);
      expect(seen.cookies.length).toBeGreaterThan(0);
      expect(target(final.location as string)).toBe(REDIRECT);
      expect(responseParams(final.location as string).get('iss')).toBe(PUBLIC_ISSUER);
    });
  });

  describe('proxy trust off (default)', () => {
    it('forwarded headers are ignored: discovery and a whole sign-in stay on the issuer', async () => {
      const metadata = await discovery(direct, FORGED);
      expect(metadata.issuer).toBe(direct.issuer);
      expect(urlsIn(metadata).filter((url) => url !== direct.issuer && !url.startsWith(`${direct.issuer}/`))).toEqual([]);

      const { seen, final } = await signIn(direct, df, FORGED);
      expect(seen.locations.filter((l) => l.includes('evil'))).toEqual([]);
      expect(seen.actions.filter((a) => a.includes('evil'))).toEqual([]);
      expect(target(final.location as string)).toBe(REDIRECT);
      expect(responseParams(final.location as string).get('iss')).toBe(direct.issuer);
    });

    it('a forged Host header does not change the endpoints or redirects either', async () => {
      const metadata = await discovery(direct, { host: 'evil.example' });
      expect(metadata.issuer).toBe(direct.issuer);
      expect(urlsIn(metadata).filter((url) => url !== direct.issuer && !url.startsWith(`${direct.issuer}/`))).toEqual([]);
      const { params } = authParams(df.reader.clientId, REDIRECT, 'openid contacts:read');
      const auth = await rawHttp(direct.url(`/auth?${params}`), { headers: { host: 'evil.example' } });
      expect(auth.status).toBe(303);
      expect(String(auth.headers.location)).not.toContain('evil');
    });
  });
});
