// T18 sender-constrained tokens with DPoP (RFC 9449; oidc-provider's DPoP support is on).
// A DPoP-bound token says so at introspection (cnf.jkt); a bound refresh token needs a proof
// with the same key; a proof is single use (ReplayDetection, insert-only in the adapter), also
// when ten requests race with the same proof.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, completeInteraction, publicClient } from '../helpers/oauth.ts';
import { UserAgent } from '../helpers/user-agent.ts';
import { basic, introspect } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

interface ProofKey {
  privateKey: CryptoKey;
  jwk: Record<string, unknown>;
}

async function proofKey(): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, jwk: await exportJWK(publicKey) };
}

function proof(key: ProofKey, htu: string, htm = 'POST'): Promise<string> {
  return new SignJWT({ htm, htu, jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt()
    .sign(key.privateKey);
}

describe.each(STORES)('T18 DPoP (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const serviceToken = (dpop: string) =>
    fetch(h.url('/token'), {
      method: 'POST',
      headers: { authorization: basic(f.service.clientId, f.service.clientSecret), 'content-type': 'application/x-www-form-urlencoded', dpop },
      body: 'grant_type=client_credentials&scope=contacts:read',
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }));

  it('a DPoP proof gives a DPoP-bound token, and introspection shows the binding', async () => {
    const key = await proofKey();
    const answer = await serviceToken(await proof(key, h.url('/token')));
    expect(answer.status).toBe(200);
    expect(answer.body.token_type).toBe('DPoP');
    const info = await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, answer.body.access_token as string);
    expect(info.active).toBe(true);
    expect((info.cnf as { jkt: string }).jkt).toBe(await calculateJwkThumbprint(key.jwk));
  });

  it('a proof is single use, also when ten requests race with it', async () => {
    const key = await proofKey();
    const once = await proof(key, h.url('/token'));
    expect((await serviceToken(once)).status).toBe(200);
    const again = await serviceToken(once);
    expect(again.status).toBe(400);
    // RFC 9449 §5 names invalid_dpop_proof; oidc-provider raises a replay at the token endpoint
    // as invalid_grant (validate_dpop.js, checkDpopReplay with the endpoint's error class).
    expect(['invalid_dpop_proof', 'invalid_grant']).toContain(again.body.error);

    const shared = await proof(key, h.url('/token'));
    const racing = await Promise.all(Array.from({ length: 10 }, () => serviceToken(shared)));
    expect(racing.filter((r) => r.status >= 500)).toEqual([]);
    expect(racing.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
  });

  it("a public client's refresh token is bound to its DPoP key", async () => {
    const key = await proofKey();
    const config = await publicClient(h, f.spa.clientId);
    const dpop = client.getDPoPHandle(config, { privateKey: key.privateKey, publicKey: (await crypto.subtle.importKey('jwk', key.jwk as crypto.JsonWebKey, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify'])) as never } as never);
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const final = await completeInteraction(new UserAgent(), request.url.toString(), REDIRECT, f.user);
    const tokens = await client.authorizationCodeGrant(config, new URL(final.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state }, undefined, { DPoP: dpop });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');

    const refresh = (dpopHeader?: string) =>
      fetch(h.url('/token'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpopHeader ? { dpop: dpopHeader } : {}) },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string, client_id: f.spa.clientId }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }));

    expect((await refresh()).status).toBe(400);
    const otherKey = await proofKey();
    expect((await refresh(await proof(otherKey, h.url('/token')))).body.error).toBe('invalid_grant');
    // The refusals did not burn it: the right key still refreshes.
    expect((await refresh(await proof(key, h.url('/token')))).status).toBe(200);
  });
});
