// Pins internals/refresh-token-find.ts, on which the refresh grace window (T36) and checking
// `resource` before anything is consumed depend: the refresh handler still loads the presented
// token through `provider.RefreshToken.find` before consuming it, and still decides "already
// used" from that very instance. An upgrade that looked the token up another way, or re-read
// `consumed`, would turn every retry inside the grace window into a revoked grant and burn
// tokens on a refused `resource`; these tests then see exactly that.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Provider from 'oidc-provider';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CALENDAR, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';
import { obtainCode, redeemCode } from '../security/support.ts';

describe.each(STORES)('the refresh handler loads the presented token through RefreshToken.find (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    // The grace window (default 5 s) is what lets a retry of the previous token through.
    h = await startServer({ store, env: { REFRESH_GRACE_SECONDS: '10' } });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const reader = () => ({ id: f.reader.clientId, secret: f.reader.clientSecret });
  const refresh = (token: string, extra: Record<string, string> = {}) =>
    tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: token, ...extra });

  async function refreshToken(): Promise<string> {
    const issued = await obtainCode(h, f.user, { clientId: f.reader.clientId, redirectUri: REDIRECT, scope: 'openid contacts:read' });
    const answer = await redeemCode(h, reader(), { code: issued.code, redirect_uri: REDIRECT, code_verifier: issued.verifier });
    return answer.json<{ refresh_token: string }>().refresh_token;
  }

  it('before anything is consumed: a refused resource leaves the token usable', async () => {
    const token = await refreshToken();
    const refused = await refresh(token, { resource: CALENDAR });
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ error: 'invalid_target', error_description: 'the refresh token was not granted for this resource' });
    // Had the provider consumed it first (its own resource check comes after), this is reuse.
    expect((await refresh(token)).status).toBe(200);
  });

  it('deciding "already used" from the instance find returned: a retry inside the grace window gets the same pair', async () => {
    const token = await refreshToken();
    const first = await refresh(token);
    expect(first.status).toBe(200);
    const retry = await refresh(token);
    // The provider's own inline check would have revoked the grant here.
    expect(retry).toEqual(first);
    expect((await refresh(first.body.refresh_token as string)).status).toBe(200);
  });

  it('RefreshToken is a class of each provider: the patch touches no other provider', () => {
    const other = new Provider('http://127.0.0.1:1', { clients: [] });
    expect(other.RefreshToken).not.toBe(h.app.provider.RefreshToken);
    expect(other.RefreshToken.find).not.toBe(h.app.provider.RefreshToken.find);
  });
});
