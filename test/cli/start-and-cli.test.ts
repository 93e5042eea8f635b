// The two entry points as users run them: `npm start` on an empty database, and the operator
// CLI changing a running server's data without a restart.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, npmStart, runCli, tempDir, waitForHttp, type ServerProcess } from '../helpers/processes.ts';
import { client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { freshDatabase } from '../helpers/databases.ts';
import { AdminApiClient, adminToken } from '../helpers/admin-api.ts';
import { codeFlow as dpopCodeFlow, dpopKey } from '../helpers/dpop.ts';

describe('npm start and the latchkey CLI (SQLite)', () => {
  const dir = tempDir();
  const env = { DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}`, KEYS_FILE: path.join(dir, 'keys.json') };
  let port: number;
  let issuer: string;
  let server: ServerProcess;
  const redirect = 'http://127.0.0.1:7777/cb';
  const created = { resource: {} as Record<string, string>, client: {} as Record<string, string>, user: {} as Record<string, string>, tokens: {} as Record<string, string> };

  const cli = (...args: string[]) => runCli(args, { ...env, ISSUER: issuer });
  const json = async (...args: string[]) => {
    const result = await cli(...args, '--json');
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    // An operator's heap cap (README, Performance) reaches the server through npm start.
    server = npmStart({ ...env, PORT: String(port), ISSUER: issuer, NODE_OPTIONS: '--max-old-space-size=1024' });
    const took = await waitForHttp(`${issuer}/.well-known/openid-configuration`, 60_000, server.exited);
    expect(took).toBeLessThan(60_000);
  });
  afterAll(async () => {
    server.killAll();
  });

  it('runs with the heap cap an operator set in NODE_OPTIONS, and says so when it starts', () => {
    const listening = server.output().split('\n').find((line) => line.includes('latchkey listening'));
    const heapLimitMiB = Number(/"heapLimitMiB":(\d+)/.exec(listening ?? '')?.[1]);
    // 1,024 MiB of old space plus the young generation; uncapped, V8 sizes it from the machine.
    expect(heapLimitMiB, server.output()).toBeGreaterThanOrEqual(1024);
    expect(heapLimitMiB).toBeLessThan(1200);
  });

  it('seeds the demo data on the first start of an empty database', async () => {
    const clients = (await json('client', 'list')) as Array<{ client_id: string }>;
    expect(clients.map((c) => c.client_id)).toEqual(expect.arrayContaining(['contacts-reader', 'contacts-spa', 'contacts-sync', 'contacts-api']));
    const resources = (await json('resource', 'list')) as Array<{ id: string; scopes: Array<{ scope: string; description: string }> }>;
    const contacts = resources.find((r) => r.id === 'https://contacts-api.example');
    expect(contacts?.scopes).toContainEqual({ scope: 'contacts:read', description: 'Read your contacts — read-only' });
  });

  it('creates a resource server, a client and a user that the running server uses at once', async () => {
    created.resource = await json('resource', 'add', '--id', 'https://notes.api.test', '--scope', 'notes:read notes:write', '--name', 'Notes API', '--describe', 'notes:read=Read your notes');
    expect(created.resource).toMatchObject({ id: 'https://notes.api.test' });
    expect(created.resource.client_id).toBeTruthy();
    expect(created.resource.client_secret?.length).toBeGreaterThanOrEqual(43);

    created.client = await json('client', 'add', '--name', 'Notes App', '--redirect-uri', redirect, '--scope', 'openid notes:read', '--resource', 'https://notes.api.test');
    expect(created.client.client_id).toBeTruthy();
    expect(created.client.client_secret?.length).toBeGreaterThanOrEqual(43);

    const publicClient = await json('client', 'add', '--name', 'Notes SPA', '--redirect-uri', redirect, '--public', '--resource', 'https://notes.api.test');
    expect(publicClient.client_secret).toBeUndefined();

    created.user = await json('user', 'add', '--email', 'dana@example.com', '--password', 'dana password 1', '--name', 'Dana');
    expect(created.user).toMatchObject({ email: 'dana@example.com' });
    expect(created.user.id).toBeTruthy();

    expect(((await json('client', 'list')) as Array<{ client_id: string }>).map((c) => c.client_id)).toContain(created.client.client_id);
    expect(((await json('resource', 'list')) as Array<{ id: string }>).map((r) => r.id)).toContain('https://notes.api.test');

    // No restart: the server already knows the new client, resource and user.
    const app = await confidentialClient({ issuer }, created.client.client_id as string, created.client.client_secret as string);
    const { tokens } = await codeFlow(app, { email: 'dana@example.com', password: 'dana password 1' }, { redirect_uri: redirect, scope: 'openid notes:read' });
    const rs = await confidentialClient({ issuer }, created.resource.client_id as string, created.resource.client_secret as string);
    expect(await client.tokenIntrospection(rs, tokens.access_token)).toMatchObject({ active: true, aud: 'https://notes.api.test', scope: 'notes:read' });
    created.tokens = { access: tokens.access_token, refresh: tokens.refresh_token as string };
  });

  it('client add --dpop-bound --require-par: the running server holds the client to both', async () => {
    const made = await json('client', 'add', '--name', 'Notes Bound', '--redirect-uri', redirect, '--scope', 'notes:read', '--resource', 'https://notes.api.test', '--dpop-bound', '--require-par');
    expect(made).toMatchObject({ dpop_bound_access_tokens: true, require_pushed_authorization_requests: true });
    const app = { clientId: made.client_id as string, clientSecret: made.client_secret as string };
    const dana = { email: 'dana@example.com', password: 'dana password 1' };
    const options = { scope: 'notes:read', redirectUri: redirect };
    await expect(dpopCodeFlow(issuer, app, dana, { ...options, key: await dpopKey() })).rejects.toMatchObject({ error: 'invalid_request', error_description: 'Pushed Authorization Request must be used' });
    await expect(dpopCodeFlow(issuer, app, dana, { ...options, par: true })).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await dpopCodeFlow(issuer, app, dana, { ...options, par: true, key: await dpopKey() })).token_type).toBe('dpop');
  });

  it('creates initial access tokens that open dynamic registration', async () => {
    const { initial_access_token: iat } = await json('initial-access-token', 'create');
    expect(iat).toBeTruthy();
    const response = await fetch(`${issuer}/reg`, {
      method: 'POST',
      headers: { authorization: `Bearer ${iat}`, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [redirect] }),
    });
    expect(response.status).toBe(201);
  });

  it('makes an admin API client (--admin) whose tokens manage the running server; the CLI and the API see the same', async () => {
    const made = await json('client', 'add', '--admin', '--name', 'Ops console');
    expect(made).toMatchObject({ grant_types: ['client_credentials'], redirect_uris: [], resource_scopes: { [`${issuer}/admin`]: 'latchkey:admin latchkey:admin.read' } });
    const token = await adminToken(issuer, made.client_id, made.client_secret);
    const api = await AdminApiClient.load(issuer);
    const viaApi = await api.call('GET', '/users', { token, query: { email: 'dana@example.com' } });
    expect(viaApi.body.users).toEqual(await json('user', 'list', '--email', 'dana@example.com'));
    const disabled = await api.call('PATCH', `/users/${viaApi.body.users[0].id}`, { token, body: { disabled: true } });
    expect(disabled.body.disabled).toBe(true);
    expect(await json('user', 'disable', 'dana@example.com', '--enable')).toMatchObject({ disabled: false });
    // The audit trail says which channel made each change.
    const events = (await json('audit', '--event', 'client.created', '--limit', '5')) as Array<{ client_id: string; details: Record<string, unknown> }>;
    expect(events.find((e) => e.client_id === made.client_id)?.details).toMatchObject({ via: 'cli', admin: true });
    const toggles = (await json('audit', '--event', 'user.disabled')) as Array<{ details: Record<string, unknown> }>;
    expect(toggles[0]?.details).toMatchObject({ via: 'admin_api', admin_client: made.client_id });
    // An admin client takes no redirect URIs and no other APIs.
    const refused = await cli('client', 'add', '--admin', '--name', 'X', '--redirect-uri', redirect);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--redirect-uri/);
  });

  it('answers bad arguments with usage and a non-zero exit', async () => {
    const missing = await cli('client', 'add', '--name', 'X');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/redirect-uri/);
    const unknownFlag = await cli('client', 'add', '--nme', 'X');
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/usage: latchkey/);
    const unknownCommand = await cli('frobnicate');
    expect(unknownCommand.code).toBe(2);
    const badScope = await cli('client', 'add', '--name', 'Y', '--redirect-uri', redirect, '--scope', 'no:such:scope');
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toMatch(/unknown scope/);
  });

  it('removing a client takes effect within a second', async () => {
    const extra = await json('client', 'add', '--name', 'Doomed', '--grant-types', 'client_credentials', '--scope', 'notes:read');
    const doomed = await confidentialClient({ issuer }, extra.client_id, extra.client_secret);
    await expect(client.clientCredentialsGrant(doomed, { scope: 'notes:read' })).resolves.toHaveProperty('access_token');
    expect((await cli('client', 'remove', extra.client_id)).code).toBe(0);
    // Running servers keep client records for at most a second (README, Performance).
    const started = Date.now();
    let refused: Response;
    do {
      refused = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${extra.client_id}:${extra.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials&scope=notes:read',
      });
      if (refused.status === 401) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() - started < 3000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('exits cleanly within 10 s of SIGTERM, and tokens survive a restart', async () => {
    const started = Date.now();
    server.child.kill('SIGTERM');
    const code = await server.exited;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(code).toBe(0);

    server = npmStart({ ...env, PORT: String(port), ISSUER: issuer });
    await waitForHttp(`${issuer}/.well-known/openid-configuration`, 60_000, server.exited);
    const rs = await confidentialClient({ issuer }, created.resource.client_id as string, created.resource.client_secret as string);
    expect((await client.tokenIntrospection(rs, created.tokens.access as string)).active).toBe(true);
    const app = await confidentialClient({ issuer }, created.client.client_id as string, created.client.client_secret as string);
    await expect(client.refreshTokenGrant(app, created.tokens.refresh as string)).resolves.toHaveProperty('access_token');
  });
});

describe('start-up configuration errors', () => {
  it('refuses a bad setting with a clear message', async () => {
    const dir = tempDir();
    const bad = npmStart({ PORT: 'eighty', DATABASE_URL: `sqlite:${dir}/x.sqlite`, KEYS_FILE: `${dir}/keys.json` });
    expect(await bad.exited).not.toBe(0);
    expect(bad.output()).toMatch(/PORT must be a whole number/);

    const mysql = npmStart({ DATABASE_URL: 'mysql://localhost/x', KEYS_FILE: `${dir}/keys.json` });
    expect(await mysql.exited).not.toBe(0);
    expect(mysql.output()).toMatch(/DATABASE_URL must be/);
  });

  it('refuses to invent keys in production', async () => {
    const dir = tempDir();
    const prod = npmStart({ NODE_ENV: 'production', ISSUER: 'https://as.example', DATABASE_URL: `sqlite:${dir}/x.sqlite`, KEYS_FILE: `${dir}/keys.json` });
    expect(await prod.exited).not.toBe(0);
    expect(prod.output()).toMatch(/no key material/);
  });
});

describe('the CLI on PostgreSQL', () => {
  it('honours a postgres:// DATABASE_URL', async () => {
    const database = await freshDatabase('pg');
    const dir = tempDir();
    const env = { DATABASE_URL: database.url, KEYS_FILE: path.join(dir, 'keys.json') };
    try {
      const added = await runCli(['resource', 'add', '--id', 'https://pg.api.test', '--scope', 'pg:read', '--json'], env);
      expect(added.code, added.stderr).toBe(0);
      const listed = await runCli(['resource', 'list', '--json'], env);
      expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: 'https://pg.api.test' })]);
    } finally {
      await database.drop();
    }
  });
});
