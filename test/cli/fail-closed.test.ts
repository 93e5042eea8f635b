// Forgetting NODE_ENV=production must fail closed: outside production the server seeds a demo
// user with a published password and generates its own keys, so development mode refuses an
// issuer others can reach unless ALLOW_DEV_ON_PUBLIC_ISSUER=true says it is meant. And the
// benchmarks' hooks (BENCH_MODE, /bench/stats) are not in the production bundle at all.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, npmStart, tempDir, waitForHttp } from '../helpers/processes.ts';
import { loadConfig } from '../../server/config/env.ts';
import { buildServer } from '../../bin/build-server.js';

describe('development mode on a public issuer', () => {
  it('is refused with a message saying what production needs', () => {
    for (const issuer of ['https://auth.example.com', 'http://192.0.2.10:3000', 'http://10.0.0.5', 'http://[2001:db8::1]']) {
      expect(() => loadConfig({ ISSUER: issuer }), issuer).toThrow(/not a loopback address.*NODE_ENV=production.*key material.*ALLOW_DEV_ON_PUBLIC_ISSUER=true/s);
      expect(() => loadConfig({ ISSUER: issuer, NODE_ENV: 'test' }), issuer).toThrow(/not a loopback address/);
    }
  });

  it('is allowed on loopback addresses, or when asked for explicitly', () => {
    for (const issuer of ['http://localhost:3000', 'http://127.0.0.1:3000', 'http://127.8.9.10', 'http://[::1]:3000']) {
      expect(loadConfig({ ISSUER: issuer }).issuer, issuer).toBe(issuer);
    }
    expect(loadConfig({ ISSUER: 'https://auth.example.com', ALLOW_DEV_ON_PUBLIC_ISSUER: 'true' }).issuer).toBe('https://auth.example.com');
    expect(loadConfig({ ISSUER: 'https://auth.example.com', NODE_ENV: 'production' }).issuer).toBe('https://auth.example.com');
  });

  it('npm start without NODE_ENV on a public issuer exits before seeding or generating keys', async () => {
    const dir = tempDir();
    const server = npmStart({ ISSUER: 'https://auth.example.com', DATABASE_URL: `sqlite:${dir}/x.sqlite`, KEYS_FILE: `${dir}/keys.json` });
    expect(await server.exited).not.toBe(0);
    expect(server.output()).toMatch(/configuration error: ISSUER https:\/\/auth\.example\.com is not a loopback address/);
    expect(fs.existsSync(path.join(dir, 'keys.json'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'x.sqlite'))).toBe(false);
  });
});

describe('the benchmarks’ hooks', () => {
  it('are not in the production bundle, and BENCH_MODE does nothing to the server npm start runs', async () => {
    const bundle = fs.readFileSync(buildServer(), 'utf8');
    expect(bundle).not.toContain('BENCH_MODE');
    expect(bundle).not.toContain('/bench/stats');
    expect(bundle).not.toContain('memory_adapter');

    const dir = tempDir();
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const server = npmStart({ BENCH_MODE: 'memory', PORT: String(port), ISSUER: issuer, DATABASE_URL: `sqlite:${dir}/x.sqlite`, KEYS_FILE: `${dir}/keys.json` });
    try {
      await waitForHttp(`${issuer}/.well-known/openid-configuration`, 60_000, server.exited);
      expect((await fetch(`${issuer}/bench/stats`)).status).toBe(404);
    } finally {
      server.killAll();
    }
  });
});
