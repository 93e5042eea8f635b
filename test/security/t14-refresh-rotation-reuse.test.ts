// T14 refresh tokens rotate on every use; reuse revokes the grant (RFC 9700 §2.2.2, §4.14.2).
// Also for confidential clients (oidc-provider's default would not rotate them until 70 % of
// the lifetime). "Reuse" means after the grace window, or a token older than the previous one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient, publicClient } from '../helpers/oauth.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T14 refresh rotation and reuse detection (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store, env: { REFRESH_GRACE_SECONDS: '1' } });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const reader = () => ({ id: f.reader.clientId, secret: f.reader.clientSecret });
  const rs = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });

  it('a confidential client gets a new refresh token on every refresh', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { tokens } = await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const seen = new Set([tokens.refresh_token]);
    let current = tokens.refresh_token as string;
    for (let i = 0; i < 3; i += 1) {
      const next = await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: current });
      expect(next.status).toBe(200);
      expect(seen.has(next.body.refresh_token)).toBe(false);
      seen.add(next.body.refresh_token);
      current = next.body.refresh_token as string;
    }
  });

  it('presenting RT1 after the grace window is refused and kills RT2 and AT2', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { tokens } = await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const second = await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
    expect(second.status).toBe(200);
    await new Promise((r) => setTimeout(r, 2200));
    const reuse = await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: second.body.refresh_token as string })).body.error).toBe('invalid_grant');
    expect(await introspect(h.issuer, rs(), second.body.access_token as string)).toEqual({ active: false });
  });

  it('rotates for public clients too', async () => {
    const config = await publicClient(h, f.spa.clientId);
    const { tokens } = await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const response = await fetch(h.url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string, client_id: f.spa.clientId }),
    });
    const body = (await response.json()) as Record<string, string>;
    expect(response.status).toBe(200);
    expect(body.refresh_token).not.toBe(tokens.refresh_token);
  });
});
