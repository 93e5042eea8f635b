// T42 resource limits and malformed input (oidc-provider caps its parsers at 56 KiB; our forms
// at 16 KiB; Node's header limit is 16 KiB). Big bodies and parameter floods are refused fast;
// registration refuses metadata that would make the server fetch internal addresses (SSRF) and
// is rate limited; slow clients are cut off by the server's header/request timeouts.
// (The fuzz part, T42f, lives in fuzz.test.ts.)
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { freePort, npmStart, runCli, tempDir, waitForHttp, type ServerProcess } from '../helpers/processes.ts';
import { basic } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T42 resource limits (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let iat: string;

  beforeAll(async () => {
    h = await startServer({ store, env: { REGISTRATIONS_PER_TOKEN: '5', REGISTRATIONS_PER_IP: '1000' } });
    f = await createFixtures(h);
    iat = await new h.app.provider.InitialAccessToken({}).save();
  });
  afterAll(async () => h?.close());

  async function timed(url: string, init: RequestInit) {
    const started = performance.now();
    const response = await fetch(url, init);
    await response.arrayBuffer();
    return { status: response.status, ms: performance.now() - started };
  }

  it('(a) a 1 MB body is refused quickly at /token, /reg and the login form', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const token = await timed(h.url('/token'), {
      method: 'POST',
      headers: { authorization: basic(f.reader.clientId, f.reader.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&scope=${big}`,
    });
    const reg = await timed(h.url('/reg'), { method: 'POST', headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' }, body: JSON.stringify({ client_name: big }) });
    const login = await timed(h.url('/interaction/x/login'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `email=${big}` });
    for (const answer of [token, reg, login]) {
      expect([400, 413]).toContain(answer.status);
      expect(answer.ms).toBeLessThan(1000);
    }
  });

  it('(b) a huge scope is refused quickly at /auth and /token', async () => {
    const scope = Array.from({ length: 5000 }, (_, i) => `s${i}`).join(' ');
    const auth = await timed(h.url(`/auth?client_id=${f.reader.clientId}&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=${encodeURIComponent(scope)}`), { redirect: 'manual' });
    expect(auth.status).toBeGreaterThanOrEqual(300);
    expect(auth.status).toBeLessThan(500);
    const token = await timed(h.url('/token'), {
      method: 'POST',
      headers: { authorization: basic(f.service.clientId, f.service.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
    });
    expect(token.status).toBe(400);
    expect(token.ms).toBeLessThan(1000);
  });

  it('(c) registration refuses internal or non-web addresses for fetched metadata', async () => {
    for (const [field, value] of [
      ['jwks_uri', 'https://127.0.0.1/jwks'],
      ['jwks_uri', 'https://169.254.169.254/latest/meta-data/'],
      ['jwks_uri', 'file:///etc/passwd'],
      ['sector_identifier_uri', 'https://10.0.0.1/sector'],
      ['logo_uri', 'https://[::1]/logo.png'],
      ['logo_uri', 'http://localhost/logo.png'],
      // IPv4-mapped IPv6: the URL parser writes these as [::ffff:7f00:1] and [::ffff:a9fe:a9fe].
      ['jwks_uri', 'https://[::ffff:127.0.0.1]/jwks'],
      ['jwks_uri', 'https://[::ffff:169.254.169.254]/latest/meta-data/'],
      ['logo_uri', 'https://[::ffff:10.0.0.1]/logo.png'],
      ['logo_uri', 'https://[0:0:0:0:0:ffff:c0a8:0101]/logo.png'],
    ]) {
      const fresh = await new h.app.provider.InitialAccessToken({}).save();
      const response = await fetch(h.url('/reg'), {
        method: 'POST',
        headers: { authorization: `Bearer ${fresh}`, 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [REDIRECT], [field as string]: value }),
      });
      expect(response.status, `${field}=${value}`).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_client_metadata');
    }
    const many = await fetch(h.url('/reg'), {
      method: 'POST',
      headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: Array.from({ length: 10_000 }, (_, i) => `https://app${i}.example/cb`) }),
    });
    expect(many.status).toBeGreaterThanOrEqual(400);
    expect(many.status).toBeLessThan(500);
  });

  it('(c) registrations are limited per initial access token', async () => {
    const limited = await new h.app.provider.InitialAccessToken({}).save();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const response = await fetch(h.url('/reg'), {
        method: 'POST',
        headers: { authorization: `Bearer ${limited}`, 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [REDIRECT] }),
      });
      statuses.push(response.status);
      if (response.status === 429) expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429]);
  });

  it('(e) repeated parameters are refused', async () => {
    const response = await fetch(h.url('/token'), {
      method: 'POST',
      headers: { authorization: basic(f.service.clientId, f.service.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=contacts:read&scope=contacts:read',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('T42 (d) slow clients', () => {
  const dir = tempDir();
  const env = { DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}`, KEYS_FILE: path.join(dir, 'keys.json') };
  let server: ServerProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = npmStart({ ...env, PORT: String(port), ISSUER: `http://127.0.0.1:${port}` });
    await waitForHttp(`http://127.0.0.1:${port}/health/live`, 60_000, server.exited);
  });
  afterAll(async () => {
    server.killAll();
  });

  it('500 slowloris sockets neither stop a normal token request nor live past the header timeout', async () => {
    const sockets: net.Socket[] = [];
    const closedAt: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 500; i += 1) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      // Read what the server says (its 408), so its closing of the connection is seen.
      socket.resume();
      socket.on('close', () => closedAt.push(Date.now() - started));
      socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n');
      sockets.push(socket);
    }
    const drip = setInterval(() => sockets.forEach((s) => !s.destroyed && s.write('X')), 5000);
    try {
      const credentials = JSON.parse((await runCli(['client', 'add', '--name', 'S', '--grant-types', 'client_credentials', '--scope', 'contacts:read', '--resource', 'https://contacts-api.example', '--json'], env)).stdout);
      const response = await fetch(`http://127.0.0.1:${port}/token`, {
        method: 'POST',
        headers: { authorization: basic(credentials.client_id, credentials.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=contacts:read',
      });
      expect(response.status).toBe(200);
      const deadline = Date.now() + 20_000;
      while (closedAt.length < 500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect(closedAt.length).toBe(500);
      expect(Math.max(...closedAt)).toBeLessThan(15_000);
    } finally {
      clearInterval(drip);
      sockets.forEach((s) => s.destroy());
    }
  });
});
