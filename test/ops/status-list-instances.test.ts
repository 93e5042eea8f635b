// Status list indexes shared by two server processes on one PostgreSQL database behind a
// loopback balancer (test/helpers/instances.ts), set up by the operator's CLI: a JWT API with
// `--status-list-ttl 1`. Refreshes alternate between the instances; every JWT gets an index no
// other live one holds (each instance takes from a block of its own), both instances serve the
// same list, and `latchkey grant revoke` (the CLI, its own process) sets every one of those bits,
// which an API protected by latchkey/resource-server sees within the ttl.
import fs from 'node:fs';
import path from 'node:path';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.ts';
import { copyDataKey, instanceReady, keysPath, startCluster, type Cluster } from '../helpers/instances.ts';
import { TARGET_HEADER } from '../helpers/balancer.ts';
import { runCli } from '../helpers/processes.ts';
import { basicAuth } from '../helpers/server-process.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { BLOCK_SIZE } from '../../adapters/status-list-store.ts';
import { decodeStatusList, statusAt } from '../../resource-server/status-list.ts';
import { call, sleep, startApi, type Api } from '../resource-server/support.ts';

const API = 'https://jwt.status-lists.test';
const REDIRECT = 'http://127.0.0.1:9/cb';
const PER_INSTANCE = 12;

describe('two instances share status list allocation (pg)', () => {
  let database: FreshDatabase;
  let cluster: Cluster;
  let cli: (...args: string[]) => Promise<unknown>;
  let app: { id: string; secret: string };
  let api: Api;
  const keyDirs: string[] = [];
  const user = { email: 'sal@example.com', password: 'status allocation password' };

  beforeAll(async () => {
    database = await freshDatabase('pg');
    const keyFiles = [keysPath(), keysPath()];
    cluster = await startCluster({ names: ['A', 'B'], keysFiles: keyFiles, env: { DATABASE_URL: database.url, SEED_DEMO: 'false' } });
    await instanceReady(cluster.start(0));
    const cliKeys = keysPath();
    copyDataKey(keyFiles[0] as string, keyFiles[1] as string);
    copyDataKey(keyFiles[0] as string, cliKeys);
    keyDirs.push(...[...keyFiles, cliKeys].map((file) => path.dirname(file)));
    const env = { DATABASE_URL: database.url, KEYS_FILE: cliKeys, ISSUER: cluster.issuer };
    cli = async (...args: string[]) => {
      const result = await runCli([...args, '--json'], env);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as unknown;
    };
    await Promise.all([
      instanceReady(cluster.start(1)),
      cli('user', 'add', '--email', user.email, '--password', user.password),
      cli('resource', 'add', '--id', API, '--scope', 'notes:read', '--format', 'jwt', '--status-list-ttl', '1'),
    ]);
    const made = (await cli('client', 'add', '--name', 'Notes', '--redirect-uri', REDIRECT, '--resource', API, '--scope', 'openid notes:read')) as Record<string, string>;
    app = { id: made.client_id as string, secret: made.client_secret as string };
    api = await startApi('koa', (origin) => ({ issuer: cluster.issuer, resource: API, publicUrl: origin }), { read: 'notes:read', write: 'notes:write' });
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await cluster?.stop();
    await database?.drop();
    for (const dir of keyDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A refresh on instance `to`, steered there through the balancer. */
  async function refreshOn(to: number, refreshToken: string): Promise<{ access_token: string; refresh_token: string }> {
    const response = await fetch(`${cluster.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(app.id, app.secret), 'content-type': 'application/x-www-form-urlencoded', [TARGET_HEADER]: String(to) },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { access_token: string; refresh_token: string };
  }

  it('JWTs from both instances hold distinct indexes, in a block per instance; a CLI revoke sets every bit on both', async () => {
    const config = await confidentialClient(cluster, app.id, app.secret);
    const { tokens } = await codeFlow(config, user, { redirect_uri: REDIRECT, scope: 'openid notes:read' });
    const issued: Array<{ on: number; token: string }> = [];
    let refresh = tokens.refresh_token as string;
    for (let i = 0; i < 2 * PER_INSTANCE; i += 1) {
      const answer = await refreshOn(i % 2, refresh);
      refresh = answer.refresh_token;
      issued.push({ on: i % 2, token: answer.access_token });
    }
    const references = issued.map(({ on, token }) => ({ on, ...(decodeJwt(token).status as { status_list: { idx: number; uri: string } }).status_list }));
    const indexes = references.map((r) => r.idx);
    expect(new Set(indexes).size).toBe(indexes.length);
    const blocksOf = (on: number) => new Set(references.filter((r) => r.on === on).map((r) => Math.floor(r.idx / BLOCK_SIZE)));
    expect(blocksOf(0).size).toBe(1);
    expect(blocksOf(1).size).toBe(1);
    expect([...blocksOf(0)][0]).not.toBe([...blocksOf(1)][0]);
    const uri = references[0]?.uri as string;
    expect(new Set(references.map((r) => r.uri))).toEqual(new Set([uri]));
    for (const { token } of issued.slice(-2)) expect((await call(api.url('/contacts'), { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    const grants = (await cli('grant', 'list', '--user', user.email)) as Array<{ grant_id: string }>;
    await cli('grant', 'revoke', grants[0]?.grant_id as string);

    // Either instance serves the same list, signed with keys both publish, every bit set.
    const jwks = createRemoteJWKSet(new URL(`${cluster.issuer}/jwks`));
    for (const instance of cluster.instances) {
      const list = await (await fetch(uri.replace(cluster.issuer, instance.direct))).text();
      const { payload } = await jwtVerify(list, jwks, { issuer: cluster.issuer, subject: uri, typ: 'statuslist+jwt' });
      expect(payload.ttl).toBe(1);
      const decoded = decodeStatusList(payload.status_list);
      expect(indexes.map((idx) => statusAt(decoded, idx))).toEqual(indexes.map(() => 1));
    }
    const started = Date.now();
    let answer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${issued.at(-1)?.token}` } });
    while (answer.status === 200 && Date.now() - started < 3000) {
      await sleep(100);
      answer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${issued.at(-1)?.token}` } });
    }
    expect(answer.status).toBe(401);
    expect(answer.body.error_description).toBe('The access token has been revoked');
  });
});
