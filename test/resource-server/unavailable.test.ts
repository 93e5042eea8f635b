// When the authorization server cannot answer, the API says 503 temporarily_unavailable, never
// 401: the caller's token may be perfectly good. JWT access tokens keep working offline with
// the keys already fetched. The failing "issuers" here are real loopback servers that refuse,
// fail or stall.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CALENDAR, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import type { TokenError } from '../../resource-server/index.ts';
import { call, clientCredentialsToken, startApi, type Answer, type Api } from './support.ts';

function expectUnavailable(answer: Answer) {
  expect(answer.status).toBe(503);
  expect(answer.headers['www-authenticate']).toBeUndefined();
  expect(answer.headers['cache-control']).toBe('no-store');
  expect(answer.body).toEqual({ error: 'temporarily_unavailable', error_description: 'The authorization server could not be reached to check the access token' });
}

describe.each(STORES)('the issuer goes down (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let running = false;
  let jwtToken: string;
  let opaqueToken: string;
  const apis: Api[] = [];

  beforeAll(async () => {
    h = await startServer({ store });
    running = true;
    f = await createFixtures(h, { contactsFormat: 'jwt' });
    const calendarService = await h.management.clients.add({ name: 'Calendar sync', grantTypes: ['client_credentials'], scope: 'calendar:read', resources: [CALENDAR] });
    await h.app.catalog.reload();
    jwtToken = await clientCredentialsToken(h.issuer, f.service, { scope: 'contacts:read' });
    opaqueToken = await clientCredentialsToken(h.issuer, { clientId: calendarService.clientId, clientSecret: calendarService.clientSecret as string }, { scope: 'calendar:read' });
  });
  afterAll(async () => {
    await Promise.all(apis.map((api) => api.close()));
    if (running) await h?.close();
  });

  async function api(resource: string, credentials?: { clientId: string; clientSecret: string }, read = 'contacts:read') {
    const started = await startApi('koa', (origin) => ({ issuer: h.issuer, resource, ...credentials, publicUrl: origin, introspectionCacheSeconds: 0 }), { read, write: `${read}-more` });
    apis.push(started);
    return started;
  }

  it('503 for opaque tokens and for JWTs whose keys were never fetched; JWTs verified before keep working', async () => {
    const warm = await api(f.contacts.id);
    const cold = await api(f.contacts.id);
    const opaque = await api(CALENDAR, f.calendar, 'calendar:read');
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    expect((await call(warm.url('/contacts'), bearer(jwtToken))).status).toBe(200);
    expect((await call(opaque.url('/contacts'), bearer(opaqueToken))).status).toBe(200);

    running = false;
    await h.close();

    expectUnavailable(await call(opaque.url('/contacts'), bearer(opaqueToken)));
    expectUnavailable(await call(cold.url('/contacts'), bearer(jwtToken)));
    // Offline verification: the issuer's keys are already here.
    expect((await call(warm.url('/contacts'), bearer(jwtToken))).status).toBe(200);
  });
});

/** A stand-in issuer on loopback whose endpoints answer as `behave` says. */
async function fakeIssuer(behave: (path: string, res: http.ServerResponse, issuer: string) => void) {
  const server = http.createServer((req, res) => behave(new URL(req.url ?? '/', 'http://x').pathname, res, issuer));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function discovery(res: http.ServerResponse, issuer: string, claimedIssuer = issuer) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ issuer: claimedIssuer, jwks_uri: `${issuer}/jwks`, introspection_endpoint: `${issuer}/token/introspection` }));
}

describe('an authorization server that fails', () => {
  async function refusalFrom(behave: Parameters<typeof fakeIssuer>[0], timeoutMs = 5000) {
    const as = await fakeIssuer(behave);
    const errors: TokenError[] = [];
    const api = await startApi('node', (origin) => ({
      issuer: as.issuer,
      resource: 'https://contacts.api.test',
      clientId: 'rs',
      clientSecret: 'secret',
      publicUrl: origin,
      timeoutMs,
      onError: (error) => void errors.push(error),
    }));
    try {
      const started = Date.now();
      const answer = await call(api.url('/contacts'), { headers: { authorization: 'Bearer opaque-token' } });
      return { answer, elapsed: Date.now() - started, cause: String((errors[0]?.cause as Error | undefined)?.message) };
    } finally {
      await api.close();
      await as.close();
    }
  }

  it('introspection answering 500: 503, and onError learns why', async () => {
    const { answer, cause } = await refusalFrom((path, res, issuer) => (path.startsWith('/.well-known/') ? discovery(res, issuer) : res.writeHead(500).end()));
    expectUnavailable(answer);
    expect(cause).toMatch(/introspection: .* answered 500/);
  });

  it("introspection refusing the API's own credentials (401): 503, not the caller's fault", async () => {
    const { answer } = await refusalFrom((path, res, issuer) =>
      path.startsWith('/.well-known/') ? discovery(res, issuer) : res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}'),
    );
    expectUnavailable(answer);
  });

  it('introspection that never answers: 503 once timeoutMs has passed', async () => {
    const { answer, elapsed, cause } = await refusalFrom((path, res, issuer) => (path.startsWith('/.well-known/') ? discovery(res, issuer) : undefined), 300);
    expectUnavailable(answer);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
    expect(cause).toMatch(/could not be reached/);
  });

  it('discovery failing, or naming another issuer: 503', async () => {
    expectUnavailable((await refusalFrom((_path, res) => res.writeHead(502).end())).answer);
    const impostor = await refusalFrom((path, res, issuer) => (path.startsWith('/.well-known/') ? discovery(res, issuer, 'https://someone-else.example') : res.writeHead(500).end()));
    expectUnavailable(impostor.answer);
    expect(impostor.cause).toMatch(/discovery names the issuer/);
  });
});
