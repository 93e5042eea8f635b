// T34 concurrent code redemption (ASVS 10.4.2). Decision: exactly one request gets tokens, every
// other gets invalid_grant (never 5xx), and a replay, parallel or sequential, revokes the grant
// once the winner has answered. Also across two server instances on one database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, completeInteraction, confidentialClient } from '../helpers/oauth.ts';
import { UserAgent } from '../helpers/user-agent.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T34 concurrent code redemption (%s)', (store) => {
  let h: Harness;
  let second: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    second = await startServer({ store, sameDatabaseAs: h, env: { ISSUER: h.issuer } });
  });
  afterAll(async () => {
    await second?.close();
    await h?.close();
  });

  async function freshCode() {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const final = await completeInteraction(new UserAgent(), request.url.toString(), REDIRECT, f.user);
    return { code: new URL(final.location as string).searchParams.get('code') as string, verifier: request.verifier };
  }

  const redeem = (url: string, code: string, verifier: string) =>
    tokenRequest(url, { id: f.reader.clientId, secret: f.reader.clientSecret }, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });

  for (const parallel of [10, 50]) {
    it(`${parallel} parallel redemptions: one 200, the rest invalid_grant, then the grant is revoked`, async () => {
      const { code, verifier } = await freshCode();
      const results = await Promise.all(Array.from({ length: parallel }, () => redeem(h.issuer, code, verifier)));
      expect(results.filter((r) => r.status >= 500)).toEqual([]);
      const winners = results.filter((r) => r.status === 200);
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => r.status !== 200).every((r) => r.status === 400 && r.body.error === 'invalid_grant')).toBe(true);
      // A parallel replay is a replay: what the code issued is dead.
      expect(await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, winners[0]?.body.access_token as string)).toEqual({ active: false });
    });
  }

  it('across two instances on one database: exactly one succeeds', async () => {
    const { code, verifier } = await freshCode();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => redeem(i % 2 ? second.url('') : h.issuer, code, verifier)));
    expect(results.filter((r) => r.status >= 500)).toEqual([]);
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });
});
