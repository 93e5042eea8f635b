// T39 key rotation and restart without downtime (oidc-provider: rotate by adding and promoting;
// conformance `oidcc-server-rotate-keys`). `latchkey keys rotate` makes a new signing key and
// cookie key active; the old ones stay published/accepted; the running server switches without
// a restart; tokens signed before still verify, before and after a restart.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { freePort, npmStart, runCli, tempDir, waitForHttp, type ServerProcess } from '../helpers/processes.ts';
import { authorizationRequest, client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { UserAgent } from '../helpers/user-agent.ts';

describe('T39 key rotation', () => {
  const dir = tempDir();
  const env = { DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}`, KEYS_FILE: path.join(dir, 'keys.json'), SEED_DEMO: 'false', KEYS_POLL_SECONDS: '1' };
  const redirect = 'http://127.0.0.1:7778/cb';
  let issuer: string;
  let server: ServerProcess;
  let app: client.Configuration;
  let agent: UserAgent;
  let before: { idToken: string; jwtAccess: string; kid: string };
  let credentials: { resource: Record<string, string>; client: Record<string, string> };

  const cli = async (...args: string[]) => {
    const result = await runCli([...args, '--json'], { ...env, ISSUER: issuer });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };
  const jwks = async () => ((await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);

  beforeAll(async () => {
    issuer = `http://127.0.0.1:${await freePort()}`;
    server = npmStart({ ...env, PORT: new URL(issuer).port, ISSUER: issuer });
    await waitForHttp(`${issuer}/.well-known/openid-configuration`, 60_000, server.exited);
    credentials = {
      resource: await cli('resource', 'add', '--id', 'https://jwt.api.test', '--scope', 'jwt:read', '--format', 'jwt'),
      client: await cli('client', 'add', '--name', 'Rotator', '--redirect-uri', redirect, '--resource', 'https://jwt.api.test'),
    };
    await cli('user', 'add', '--email', 'rita@example.com', '--password', 'rita password 1');
    app = await confidentialClient({ issuer }, credentials.client.client_id as string, credentials.client.client_secret as string);
    agent = new UserAgent();
    const { tokens } = await codeFlow(app, { email: 'rita@example.com', password: 'rita password 1' }, { redirect_uri: redirect, scope: 'openid jwt:read' }, agent);
    before = { idToken: tokens.id_token as string, jwtAccess: tokens.access_token, kid: decodeProtectedHeader(tokens.access_token).kid as string };
  });
  afterAll(async () => {
    server.killAll();
  });

  it('rotation publishes the new key beside the old one, without a restart', async () => {
    expect(await jwks()).toEqual([before.kid]);
    const listed = (await cli('keys', 'rotate')) as Array<{ kind: string; id: string; status: string }>;
    const signing = listed.filter((k) => k.kind === 'signing');
    expect(signing.map((k) => k.status)).toEqual(['active', 'verify-only']);
    expect(signing[1]?.id).toBe(before.kid);
    const started = Date.now();
    while ((await jwks()).length < 2 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 200));
    expect(await jwks()).toEqual([signing[0]?.id, before.kid]);
  });

  it('tokens signed before the rotation still verify; new ones carry the new key', async () => {
    const keySet = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    await expect(jwtVerify(before.jwtAccess, keySet, { issuer, audience: 'https://jwt.api.test' })).resolves.toBeTruthy();
    await expect(jwtVerify(before.idToken, keySet, { issuer })).resolves.toBeTruthy();

    // The session cookie was signed with the old cookie key: still accepted, no new login.
    const request = await authorizationRequest(app, { redirect_uri: redirect, scope: 'openid jwt:read' });
    const straight = await agent.follow(request.url.toString(), redirect);
    expect(straight.status).toBe(303);
    expect(straight.location).toContain('code=');
    const tokens = await client.authorizationCodeGrant(app, new URL(straight.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state });
    const kid = decodeProtectedHeader(tokens.access_token).kid;
    expect(kid).not.toBe(before.kid);
    expect((await jwks())[0]).toBe(kid);
  });

  it('after a restart both keys still verify', async () => {
    server.child.kill('SIGTERM');
    await server.exited;
    server = npmStart({ ...env, PORT: new URL(issuer).port, ISSUER: issuer });
    await waitForHttp(`${issuer}/.well-known/openid-configuration`, 60_000, server.exited);
    expect((await jwks()).length).toBe(2);
    const keySet = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    await expect(jwtVerify(before.jwtAccess, keySet, { issuer, audience: 'https://jwt.api.test' })).resolves.toBeTruthy();
    const listed = (await cli('keys', 'list')) as Array<{ kind: string; status: string }>;
    expect(listed.filter((k) => k.kind === 'cookie').map((k) => k.status)).toEqual(['active', 'verify-only']);
  });
});
