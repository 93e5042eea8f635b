// What an operator sees of a running instance: health, Prometheus metrics (read with a real
// Prometheus text parser) that move with a real flow, and structured logs with request ids that
// never hold a token, code, secret, password or cookie — even at LOG_LEVEL=debug.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../helpers/processes.ts';
import { readExposition, total } from '../helpers/prometheus.ts';
import { basicAuth, readDemoCredentials, startServerProcess, type ServerChild } from '../helpers/server-process.ts';
import { freshDatabase, STORES, type FreshDatabase } from '../helpers/databases.ts';
import { client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { DEMO } from '../../seeds/01-demo.ts';

const METRICS_TOKEN = 'metrics-token-for-the-test-0123456789';
const REDIRECT = 'http://localhost:8080/callback';

describe.each(STORES)('health, metrics and logs (%s)', (store) => {
  const dir = tempDir();
  let database: FreshDatabase;
  let server: ServerChild;
  let metricsUrl: string;
  let secrets: Record<string, string>;
  /** Every value the flow saw that must never reach a log. */
  const values: Array<[string, string]> = [];

  beforeAll(async () => {
    database = await freshDatabase(store);
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    server = startServerProcess({
      port: await freePort(),
      env: {
        DATABASE_URL: database.url,
        KEYS_FILE: path.join(dir, 'keys.json'),
        LOG_LEVEL: 'debug',
        METRICS_PORT: String(metricsPort),
        METRICS_TOKEN,
        DYNAMIC_REGISTRATION: 'open',
        TRUST_PROXY: 'true',
      },
    });
    await server.ready(60_000);
    secrets = readDemoCredentials(path.join(dir, 'keys.json'));
    for (const [id, secret] of Object.entries(secrets)) values.push([`${id} secret`, secret]);
    values.push(['password', DEMO.user.password]);
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  const scrape = async () => readExposition(await (await fetch(metricsUrl)).text());

  it('answers liveness and readiness', async () => {
    expect((await fetch(`${server.issuer}/health/live`)).status).toBe(200);
    const ready = await fetch(`${server.issuer}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok' });
  });

  it('serves metrics on their own listener, and on the main port only with the token', async () => {
    expect((await fetch(`${server.issuer}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.issuer}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const withToken = await fetch(`${server.issuer}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(withToken.status).toBe(200);
    expect(withToken.headers.get('content-type')).toContain('text/plain');
    const names = [...(await scrape()).types.keys()];
    for (const name of [
      'latchkey_http_requests_total',
      'latchkey_http_request_duration_seconds',
      'latchkey_db_statement_duration_seconds',
      'latchkey_db_pool_connections',
      'latchkey_group_commit_batch_size',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(names, name).toContain(name);
    }
  });

  it('counters move with a flow; no log line holds a token, code, secret, password or cookie', async () => {
    const before = await scrape();
    const reader = await confidentialClient(server, DEMO.reader.clientId, secrets[DEMO.reader.clientId] as string);

    // A failed sign-in, then a full flow.
    const agent = new UserAgent();
    const start = await agent.follow((await client.buildAuthorizationUrl(reader, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 'x' })).toString(), REDIRECT);
    const failed = await agent.request(new URL(formAction(start.body, '/login'), start.url).toString(), { form: { csrf: hiddenField(start.body, 'csrf'), email: DEMO.user.email, password: 'not the password' } });
    expect(failed.status).toBe(401);
    const { tokens, callback, agent: browser } = await codeFlow(reader, DEMO.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    values.push(['code', callback.searchParams.get('code') as string], ['access token', tokens.access_token], ['refresh token', tokens.refresh_token as string], ['id token', tokens.id_token as string]);
    for (const cookie of browser.cookieHeader(`${server.issuer}/`).split('; ').filter(Boolean)) values.push(['cookie', cookie.slice(cookie.indexOf('=') + 1)]);

    const refreshed = await client.refreshTokenGrant(reader, tokens.refresh_token as string);
    values.push(['refreshed access token', refreshed.access_token], ['refreshed refresh token', refreshed.refresh_token as string]);
    const api = { id: DEMO.contactsApi.introspectionClientId, secret: secrets[DEMO.contactsApi.introspectionClientId] as string };
    const introspection = await fetch(`${server.issuer}/token/introspection`, {
      method: 'POST',
      headers: { authorization: basicAuth(api.id, api.secret), 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'proxy-given-id-42' },
      body: new URLSearchParams({ token: refreshed.access_token }),
    });
    expect(await introspection.json()).toMatchObject({ active: true });
    // With TRUST_PROXY, a proxy's request id is kept and sent back.
    expect(introspection.headers.get('x-request-id')).toBe('proxy-given-id-42');
    await client.tokenRevocation(reader, refreshed.refresh_token as string);
    const registration = await fetch(`${server.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'Logged app' }) });
    const registered = (await registration.json()) as { client_secret: string; registration_access_token: string };
    values.push(['registered secret', registered.client_secret], ['registration access token', registered.registration_access_token]);

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    expect(delta('latchkey_tokens_issued_total', { grant_type: 'authorization_code', resource: DEMO.contactsApi.id })).toBe(1);
    expect(delta('latchkey_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1);
    expect(delta('latchkey_introspections_total', { result: 'active' })).toBe(1);
    expect(delta('latchkey_login_failures_total')).toBe(1);
    expect(delta('latchkey_registrations_total', { result: 'created' })).toBe(1);
    expect(delta('latchkey_http_requests_total', { route: 'token', status: '200' })).toBe(2);
    expect(delta('latchkey_http_requests_total', { route: '/interaction/:uid/login', status: '401' })).toBe(1);
    expect(delta('latchkey_http_request_duration_seconds_count', { route: 'introspection' })).toBe(1);
    expect(delta('latchkey_db_statement_duration_seconds_count')).toBeGreaterThan(0);
    expect(delta('latchkey_group_commit_batch_size_count')).toBeGreaterThan(0);

    // Give the asynchronous log writes a moment, then read everything the server wrote.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const output = server.output();
    for (const [what, value] of values) expect(output.includes(value), `${what} in the log`).toBe(false);
    const lines = output.split('\n').filter((line) => line.startsWith('{'));
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed.some((line) => line.level === 'debug' || line.level === 'info')).toBe(true);
    const requests = parsed.filter((line) => line.msg === 'request');
    expect(requests.length).toBeGreaterThan(10);
    for (const line of requests) expect(line).toMatchObject({ requestId: expect.any(String), method: expect.any(String), route: expect.any(String), status: expect.any(Number), ms: expect.any(Number) });
    expect(requests.some((line) => line.requestId === 'proxy-given-id-42' && line.route === 'introspection')).toBe(true);
    // The provider's events are logged once, with the request id of the request that caused them.
    const issued = parsed.filter((line) => line.msg === 'token issued');
    expect(issued.length).toBe(2);
    for (const line of issued) expect(requests.some((r) => r.requestId === line.requestId && r.route === 'token')).toBe(true);
    expect(parsed.filter((line) => line.msg === 'token revoked')).toHaveLength(1);
    expect(parsed.filter((line) => line.msg === 'client registration created')).toHaveLength(1);
  });
});
