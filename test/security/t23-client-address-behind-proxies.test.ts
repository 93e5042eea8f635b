// T23 (client address): behind a proxy that appends to X-Forwarded-For, the leftmost entries are
// whatever the client sent; only the entries the trusted proxies appended are true. The client
// address is the entry PROXY_HOPS from the right (default 1 with TRUST_PROXY), so a forged
// leftmost entry neither escapes the per-address limits nor writes a false address into the
// audit trail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { STORES } from '../helpers/databases.ts';
import { loadConfig } from '../../server/config/env.ts';

describe.each(STORES)('T23 the client address behind proxies (%s)', (store) => {
  const servers: Harness[] = [];
  afterAll(async () => Promise.all(servers.map((s) => s.close())));

  async function serve(env: Record<string, string>): Promise<{ h: Harness; f: Fixtures }> {
    const h = await startServer({ store, env: { TRUST_PROXY: 'true', LOGIN_IP_ATTEMPTS: '3', LOGIN_ACCOUNT_ATTEMPTS: '1000', LOGIN_FREE_ATTEMPTS: '100', ...env } });
    servers.push(h);
    return { h, f: await createFixtures(h) };
  }

  async function failedLogin(h: Harness, f: Fixtures, email: string, forwardedFor: string) {
    const agent = new UserAgent();
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const page = await agent.follow(request.url.toString(), REDIRECT);
    const action = new URL(formAction(page.body, '/login'), page.url).toString();
    return agent.request(action, { form: { csrf: hiddenField(page.body, 'csrf'), email, password: 'wrong password' }, headers: { 'x-forwarded-for': forwardedFor } });
  }

  let one: { h: Harness; f: Fixtures };
  let two: { h: Harness; f: Fixtures };
  beforeAll(async () => {
    one = await serve({});
    two = await serve({ PROXY_HOPS: '2' });
  });

  it('one proxy (default): a forged leftmost entry is ignored by the per-address limit and the audit trail', async () => {
    const { h, f } = one;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await failedLogin(h, f, `nobody${i}@example.com`, `10.0.0.${i}, 198.51.100.9`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    await h.app.audit.idle();
    const ips = (await h.app.audit.list({})).filter((e) => e.event === 'login.failure').map((e) => e.ip);
    expect(new Set(ips)).toEqual(new Set(['198.51.100.9']));
  });

  it('two proxies (PROXY_HOPS=2): the address the outer proxy saw, whatever the client put before it', async () => {
    const { h, f } = two;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await failedLogin(h, f, `nobody${i}@example.com`, `10.0.0.${i}, 203.0.113.7, 192.0.2.1`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    await h.app.audit.idle();
    const ips = (await h.app.audit.list({})).filter((e) => e.event === 'login.failure').map((e) => e.ip);
    expect(new Set(ips)).toEqual(new Set(['203.0.113.7']));
  });

  it('PROXY_HOPS is validated and needs TRUST_PROXY', () => {
    expect(loadConfig({ TRUST_PROXY: 'true' }).proxyHops).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'true', PROXY_HOPS: '3' }).proxyHops).toBe(3);
    expect(() => loadConfig({ TRUST_PROXY: 'true', PROXY_HOPS: '0' })).toThrow(/PROXY_HOPS/);
    expect(() => loadConfig({ PROXY_HOPS: '2' })).toThrow(/PROXY_HOPS.*TRUST_PROXY/);
  });
});
