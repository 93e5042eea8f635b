// T22 transport and CORS (RFC 9700 §2.6; ASVS 3.4.1, 3.4.2).
//
// The server runs with an https issuer and is reached over real TLS (a self-signed loopback
// certificate), and — the production shape — through a TLS-terminating proxy (TRUST_PROXY on,
// X-Forwarded-Proto: https on the plain-HTTP hop).
// - The authorization endpoint never answers CORS: no Access-Control-Allow-Origin on GET or on a
//   preflight, whatever the Origin (an attacker's, or even a registered client's).
// - The token endpoint answers CORS only to a public client whose registered redirect URI has the
//   requesting origin (oidc-provider clientBasedCORS, made explicit in configuration.ts); any
//   other origin — or a confidential client called from a browser — gets no
//   Access-Control-Allow-Origin and is refused before the grant is looked at. A preflight cannot
//   name the client and is answered by the library for any origin; what a page can read is
//   decided on the actual response, which is what is checked here.
// - Every response served over TLS carries Strict-Transport-Security with max-age ≥ 1 year.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authParams, basic, rawHttp, tlsListener, type PlainResponse, type TlsListener } from './support.ts';

const EVIL = 'https://evil.example';
/** The origin of the fixtures' redirect URI (registered for the public `spa` client). */
const SPA_ORIGIN = new URL(REDIRECT).origin;

describe.each(STORES)('T22 transport and CORS (%s)', (store) => {
  let tls: TlsListener;
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    tls = await tlsListener();
    h = await startServer({ store, env: { ISSUER: tls.origin, TRUST_PROXY: 'true' } });
    tls.serve(h.app.app.callback());
    f = await createFixtures(h);
  });
  afterAll(async () => {
    await tls?.close();
    await h?.close();
  });

  const acao = (response: PlainResponse) => response.headers['access-control-allow-origin'];

  const tokenForm = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

  it('the discovery document names the https issuer (setup check)', async () => {
    const response = await tls.request('/.well-known/openid-configuration');
    expect(JSON.parse(response.body).issuer).toBe(tls.origin);
  });

  it('the authorization endpoint never sends CORS headers', async () => {
    const { params } = authParams(f.reader.clientId, REDIRECT, 'openid contacts:read');
    for (const origin of [EVIL, SPA_ORIGIN, 'null']) {
      const get = await tls.request(`/auth?${params}`, { headers: { origin } });
      expect(get.status, origin).toBe(303);
      expect(acao(get), `GET ${origin}`).toBeUndefined();
      expect(get.headers['access-control-allow-credentials'], `GET ${origin}`).toBeUndefined();
      const preflight = await tls.request(`/auth?${params}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      expect(acao(preflight), `OPTIONS ${origin}`).toBeUndefined();
      expect(preflight.headers['access-control-allow-methods'], `OPTIONS ${origin}`).toBeUndefined();
    }
  });

  it('the token endpoint answers CORS to a public client from its registered origin', async () => {
    const response = await tls.request('/token', {
      method: 'POST',
      headers: { origin: SPA_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: tokenForm({ grant_type: 'refresh_token', refresh_token: 'not-a-real-token', client_id: f.spa.clientId }),
    });
    expect(acao(response)).toBe(SPA_ORIGIN);
    // Got as far as the grant.
    expect(JSON.parse(response.body).error).toBe('invalid_grant');
  });

  it('any other origin, or a confidential client, gets no CORS and is stopped before the grant', async () => {
    for (const [label, origin, authorization, fields] of [
      ['public client, foreign origin', EVIL, undefined, { client_id: f.spa.clientId }],
      ['public client, opaque origin', 'null', undefined, { client_id: f.spa.clientId }],
      ['public client, look-alike origin', `${SPA_ORIGIN}.evil.example`, undefined, { client_id: f.spa.clientId }],
      ['confidential client, its own redirect origin', SPA_ORIGIN, basic(f.reader.clientId, f.reader.clientSecret), {}],
      ['confidential client, foreign origin', EVIL, basic(f.reader.clientId, f.reader.clientSecret), {}],
    ] as const) {
      const response = await tls.request('/token', {
        method: 'POST',
        headers: { origin, 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
        body: tokenForm({ grant_type: 'refresh_token', refresh_token: 'not-a-real-token', ...fields }),
      });
      expect(acao(response), label).toBeUndefined();
      expect(response.status, label).toBe(400);
      expect(JSON.parse(response.body).error, label).toBe('invalid_request');
    }
  });

  it('every response over TLS carries HSTS (max-age ≥ 1 year)', async () => {
    const { params } = authParams(f.reader.clientId, REDIRECT, 'openid contacts:read');
    const auth = await tls.request(`/auth?${params}`);
    const cookies = (auth.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
    const responses: Array<[string, PlainResponse]> = [
      ['landing page', await tls.request('/')],
      ['discovery', await tls.request('/.well-known/openid-configuration')],
      ['jwks', await tls.request('/jwks')],
      ['authorization redirect', auth],
      ['login page', await tls.request(new URL(auth.headers.location as string, tls.origin).pathname, { headers: { cookie: cookies } })],
      ['authorization error page', await tls.request('/auth?client_id=nope')],
      ['token error', await tls.request('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password' })],
      ['introspection', await tls.request('/token/introspection', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(f.contacts.clientId, f.contacts.clientSecret) }, body: 'token=x' })],
      ['404 page', await tls.request('/no/such/page')],
      ['stylesheet', await tls.request('/assets/style.css')],
      ['health', await tls.request('/health/live')],
    ];
    for (const [label, response] of responses) {
      const hsts = response.headers['strict-transport-security'];
      expect(hsts, `${label} (${response.status})`).toMatch(/max-age=\d+/);
      expect(Number(/max-age=(\d+)/.exec(String(hsts))?.[1]), label).toBeGreaterThanOrEqual(31_536_000);
    }
    expect(responses.find(([label]) => label === 'login page')?.[1].status).toBe(200);
  });

  it('behind a TLS-terminating proxy (X-Forwarded-Proto: https), responses carry HSTS too', async () => {
    for (const path of ['/.well-known/openid-configuration', '/no/such/page', '/auth?client_id=nope']) {
      const response = await rawHttp(h.url(path), { headers: { 'x-forwarded-proto': 'https' } });
      expect(response.headers['strict-transport-security'], path).toMatch(/max-age=\d+/);
    }
  });
});
