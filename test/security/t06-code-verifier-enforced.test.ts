// T6 the code_verifier is enforced (RFC 7636 §4.6; RFC 9700 §2.1.1).
//
// A code obtained with an S256 challenge is refused without a verifier and with a wrong one
// (`400 invalid_grant`), for a confidential and for a public client; a failed PKCE check does
// not burn the code (oidc-provider checks PKCE before consuming): the right verifier still works.
//
// Decision (catalogue: "a verifier of 42 chars → invalid_grant"): a verifier outside RFC 7636's
// 43–128 characters is refused even when it hashes to the challenge — tested with a code whose
// challenge was computed from a 42-character (and a 129-character) verifier, so only the length
// rule can refuse it. The error code for such a malformed verifier may be `invalid_request`
// (RFC 6749 §5.2: a malformed parameter; oidc-provider validates the format before comparing)
// or `invalid_grant`; what matters is 400 and no token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { UserAgent } from '../helpers/user-agent.ts';
import { obtainCode, pkce, redeemCode, s256 } from './support.ts';

describe.each(STORES)('T6 code_verifier enforced (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  const agent = new UserAgent();

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  for (const kind of ['confidential', 'public'] as const) {
    it(`no verifier or a wrong one: 400 invalid_grant, and the code survives (${kind} client)`, async () => {
      const client = kind === 'confidential' ? { id: f.reader.clientId, secret: f.reader.clientSecret } : { id: f.spa.clientId };
      const issued = await obtainCode(h, f.user, { clientId: client.id, redirectUri: REDIRECT, scope: 'openid contacts:read' }, agent);
      const other = pkce().verifier;
      for (const [label, verifier] of [
        ['no verifier', undefined],
        ['another well-formed verifier', other],
        ['the verifier with one character changed', `${issued.verifier.slice(0, -1)}${issued.verifier.endsWith('A') ? 'B' : 'A'}`],
        ['the verifier plus one character', `${issued.verifier}A`],
        ['the challenge itself', s256(issued.verifier)],
      ] as const) {
        const answer = await redeemCode(h, client, { code: issued.code, redirect_uri: REDIRECT, code_verifier: verifier });
        expect(answer.status, label).toBe(400);
        expect(answer.json().error, label).toBe('invalid_grant');
        expect(answer.json().access_token, label).toBeUndefined();
      }
      // A 42-character prefix of the right verifier: malformed and wrong.
      const prefix = await redeemCode(h, client, { code: issued.code, redirect_uri: REDIRECT, code_verifier: issued.verifier.slice(0, 42) });
      expect(prefix.status).toBe(400);
      expect(prefix.json().error).toMatch(/^(invalid_grant|invalid_request)$/);

      const right = await redeemCode(h, client, { code: issued.code, redirect_uri: REDIRECT, code_verifier: issued.verifier });
      expect(right.status).toBe(200);
      expect(right.json().access_token).toEqual(expect.any(String));
    });
  }

  it('a verifier of 42 or 129 characters is refused even when it matches the challenge', async () => {
    const client = { id: f.reader.clientId, secret: f.reader.clientSecret };
    for (const length of [42, 129]) {
      const verifier = 'v'.repeat(length);
      const issued = await obtainCode(
        h,
        f.user,
        { clientId: client.id, redirectUri: REDIRECT, scope: 'openid contacts:read', pkce: { verifier, challenge: s256(verifier) } },
        agent,
      );
      const answer = await redeemCode(h, client, { code: issued.code, redirect_uri: REDIRECT, code_verifier: verifier });
      expect(answer.status, `${length} characters`).toBe(400);
      expect(answer.json().error, `${length} characters`).toMatch(/^(invalid_grant|invalid_request)$/);
      expect(answer.json().access_token).toBeUndefined();
    }
  });
});
