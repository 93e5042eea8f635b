// T39 (data key): the data key seals every stored payload and client secret and roots the CSRF
// key, so a leak of it must not be forever. `latchkey keys rotate --data` adds a new active key;
// the running server picks it up, seals new writes with it and reseals old rows in the
// background; tokens issued before keep working throughout; `keys list` shows how many values
// each key still seals; `keys prune` drops the old key once it seals nothing, and the server
// keeps working, restart included.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, npmStart, runCli, tempDir, waitForHttp, type ServerProcess } from '../helpers/processes.ts';
import { client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { freshDatabase, STORES, type FreshDatabase } from '../helpers/databases.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';

interface ListedKey {
  kind: string;
  id: string;
  status: string;
  sealed_rows?: number;
}

describe.each(STORES)('T39 data key rotation (%s)', (store) => {
  const dir = tempDir();
  const redirect = 'http://127.0.0.1:7779/cb';
  let database: FreshDatabase;
  let env: Record<string, string>;
  let issuer: string;
  let server: ServerProcess;
  let credentials: { resource: Record<string, string>; client: Record<string, string> };
  let app: client.Configuration;
  let before: { access: string; refresh: string };

  const cli = async (...args: string[]) => {
    const result = await runCli([...args, '--json'], { ...env, ISSUER: issuer });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };
  const dataKeys = async () => ((await cli('keys', 'list')) as ListedKey[]).filter((k) => k.kind === 'data');
  const rs = () => ({ id: credentials.resource.client_id as string, secret: credentials.resource.client_secret as string });
  const app_ = () => ({ id: credentials.client.client_id as string, secret: credentials.client.client_secret as string });

  async function start() {
    server = npmStart({ ...env, PORT: new URL(issuer).port, ISSUER: issuer, PURGE_INTERVAL: '1' });
    await waitForHttp(`${issuer}/.well-known/openid-configuration`, 60_000, server.exited);
  }

  beforeAll(async () => {
    database = await freshDatabase(store);
    env = { DATABASE_URL: database.url, KEYS_FILE: path.join(dir, 'keys.json'), SEED_DEMO: 'false' };
    issuer = `http://127.0.0.1:${await freePort()}`;
    await start();
    credentials = {
      resource: await cli('resource', 'add', '--id', 'https://rotating.api.test', '--scope', 'rotating:read'),
      client: await cli('client', 'add', '--name', 'Rotating app', '--redirect-uri', redirect, '--resource', 'https://rotating.api.test'),
    };
    await cli('user', 'add', '--email', 'dora@example.com', '--password', 'dora password 1');
    app = await confidentialClient({ issuer }, app_().id, app_().secret);
    const { tokens } = await codeFlow(app, { email: 'dora@example.com', password: 'dora password 1' }, { redirect_uri: redirect, scope: 'openid rotating:read' });
    before = { access: tokens.access_token, refresh: tokens.refresh_token as string };
  });
  afterAll(async () => {
    server?.killAll();
    await database?.drop();
  });

  it('keys list shows the one data key and how many stored values it seals', async () => {
    const [only, ...others] = await dataKeys();
    expect(others).toEqual([]);
    expect(only).toMatchObject({ status: 'active' });
    expect(only?.sealed_rows).toBeGreaterThan(3);
  });

  it('rotate --data: the server switches, old tokens keep working, old rows are resealed in the background', async () => {
    const [previous] = await dataKeys();
    const rotated = ((await cli('keys', 'rotate', '--data')) as ListedKey[]).filter((k) => k.kind === 'data');
    expect(rotated.map((k) => k.status)).toEqual(['active', 'retired']);
    expect(rotated[1]?.id).toBe(previous?.id);
    expect(rotated[1]?.sealed_rows).toBeGreaterThan(0);
    const stored = JSON.parse(fs.readFileSync(env.KEYS_FILE as string, 'utf8')) as { data: string; dataRetired?: string[] };
    expect(stored.dataRetired).toHaveLength(1);

    // Within seconds the server has resealed everything the old key sealed.
    const started = Date.now();
    let keys = await dataKeys();
    while ((keys[1]?.sealed_rows ?? 0) > 0 && Date.now() - started < 30_000) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      keys = await dataKeys();
    }
    expect(keys[1]?.sealed_rows).toBe(0);
    expect(keys[0]?.sealed_rows).toBeGreaterThan(3);

    // Tokens from before the rotation work; new ones too.
    expect(await introspect(issuer, rs(), before.access)).toMatchObject({ active: true, scope: 'rotating:read' });
    const refreshed = await tokenRequest(issuer, app_(), { grant_type: 'refresh_token', refresh_token: before.refresh });
    expect(refreshed.status).toBe(200);
    before = { access: refreshed.body.access_token as string, refresh: refreshed.body.refresh_token as string };
    expect((await introspect(issuer, rs(), before.access)).active).toBe(true);
  });

  it('prune drops the retired key once it seals nothing; the server keeps working, restart included', async () => {
    const pruned = ((await cli('keys', 'prune')) as ListedKey[]).filter((k) => k.kind === 'data');
    expect(pruned.map((k) => k.status)).toEqual(['active']);
    const stored = JSON.parse(fs.readFileSync(env.KEYS_FILE as string, 'utf8')) as { dataRetired?: string[] };
    expect(stored.dataRetired).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await introspect(issuer, rs(), before.access)).active).toBe(true);

    server.child.kill('SIGTERM');
    await server.exited;
    await start();
    expect((await introspect(issuer, rs(), before.access)).active).toBe(true);
    const refreshed = await tokenRequest(issuer, app_(), { grant_type: 'refresh_token', refresh_token: before.refresh });
    expect(refreshed.status).toBe(200);
    // The resource server's secret was resealed too: it still authenticates.
    expect((await introspect(issuer, rs(), refreshed.body.access_token as string)).active).toBe(true);
  });
});
