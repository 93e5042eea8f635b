// T21 a client identity cannot impersonate a user; client assertions are single use (RFC 9700
// §4.15; Hydra GHSA-3p3g-vpw6-4w66 / CVE-2020-5300; draft-ietf-oauth-security-topics-update §2,
// audience injection).
//
// - Dynamic registration: `client_id` (and `client_secret`) in the metadata are ignored; the
//   server assigns its own identifier (`dyn_…`) and secret, and the client whose id was asked for
//   is untouched.
// - client_credentials access tokens carry no user subject: introspection shows no `sub`, and a
//   JWT access token's `sub` (RFC 9068 §2.2 requires one) is the client's own id, which never
//   has the shape of users' subjects (server-generated UUIDs). A resource server tells them
//   apart by that.
// - private_key_jwt is enabled, so: the same client_assertion (same `jti`) twice → the second is
//   `401 invalid_client`, also when the copies race.
// - Decision on the assertion's `aud` (catalogue: "per chosen policy"): only the issuer
//   identifier, as a single string (the audience-injection fix of the draft above, and RFC
//   7523bis). An assertion whose `aud` is the token endpoint URL, an array, or a foreign URL is
//   refused — in particular an audience derived from the request (a `Host` header naming the
//   attacker's server, whose own token endpoint the client legitimately signed for).
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { introspect, obtainCode, postForm, rawHttp, redeemCode, register, UUID } from './support.ts';

const JWT_API = 'https://jwt.api.test';

describe.each(STORES)('T21 client identity cannot impersonate a user (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const rs1 = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });

  it('dynamic registration ignores client_id and client_secret in the metadata', async () => {
    for (const wanted of [f.reader.clientId, f.user.id, 'chosen-by-the-requester']) {
      const response = await register(h, { client_id: wanted, client_secret: 'chosen-secret-0123456789-0123456789-0123456789', redirect_uris: [REDIRECT] });
      expect(response.status, wanted).toBe(201);
      const body = response.json<{ client_id: string; client_secret: string }>();
      expect(body.client_id).not.toBe(wanted);
      expect(body.client_id).toMatch(/^dyn_/);
      expect(body.client_secret).not.toBe('chosen-secret-0123456789-0123456789-0123456789');
      // The chosen secret opens nothing under either identifier.
      for (const id of [wanted, body.client_id]) {
        const attempt = await postForm(h.url('/token/introspection'), { token: 'x' }, { auth: { id, secret: 'chosen-secret-0123456789-0123456789-0123456789' } });
        expect(attempt.status, id).toBe(401);
      }
    }
    // The reader app is untouched: its own secret still authenticates.
    const reader = await postForm(h.url('/token/introspection'), { token: 'x' }, { auth: { id: f.reader.clientId, secret: f.reader.clientSecret } });
    expect(reader.status).toBe(200);
  });

  it('client_credentials tokens carry no user subject; user tokens carry the user\'s UUID', async () => {
    const issued = await obtainCode(h, f.user, { clientId: f.reader.clientId, redirectUri: REDIRECT, scope: 'openid contacts:read' });
    const userTokens = await redeemCode(h, { id: f.reader.clientId, secret: f.reader.clientSecret }, { code: issued.code, code_verifier: issued.verifier, redirect_uri: REDIRECT });
    const userInfo = (await introspect(h, rs1(), userTokens.json<{ access_token: string }>().access_token)).json();
    expect(userInfo.sub).toBe(f.user.id);
    expect(userInfo.sub).toMatch(UUID);

    const cc = await postForm(h.url('/token'), { grant_type: 'client_credentials', scope: 'contacts:read' }, { auth: { id: f.service.clientId, secret: f.service.clientSecret } });
    expect(cc.status).toBe(200);
    const info = (await introspect(h, rs1(), cc.json<{ access_token: string }>().access_token)).json();
    expect(info).toMatchObject({ active: true, client_id: f.service.clientId });
    if (info.sub !== undefined) expect(info.sub).toBe(f.service.clientId);
    expect(f.service.clientId).not.toMatch(UUID);
  });

  it('a JWT client_credentials token names the client as sub, never a user-shaped subject', async () => {
    await h.management.resources.add({ id: JWT_API, tokenFormat: 'jwt', scopes: [{ scope: 'jwt:read', description: 'Read' }] });
    await h.app.catalog.reload();
    const created = await h.management.clients.add({ name: 'JWT service', grantTypes: ['client_credentials'], scope: 'jwt:read', resources: [JWT_API] });
    const cc = await postForm(h.url('/token'), { grant_type: 'client_credentials', scope: 'jwt:read' }, { auth: { id: created.clientId, secret: created.clientSecret as string } });
    expect(cc.status).toBe(200);
    const claims = decodeJwt(cc.json<{ access_token: string }>().access_token);
    expect(claims.client_id).toBe(created.clientId);
    if (claims.sub !== undefined) expect(claims.sub).toBe(created.clientId);
    expect(created.clientId).not.toMatch(UUID);
  });

  describe('private_key_jwt client assertions', () => {
    let clientId: string;
    let privateKey: CryptoKey;

    beforeAll(async () => {
      const pair = await generateKeyPair('ES256');
      privateKey = pair.privateKey;
      const registered = await register(h, {
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), use: 'sig', alg: 'ES256' }] },
        resource_scopes: { [CONTACTS]: 'contacts:read' },
      });
      expect(registered.status, registered.body).toBe(201);
      clientId = registered.json<{ client_id: string }>().client_id;
    });

    const assertion = (aud: string | string[] = h.issuer) =>
      new SignJWT({ jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('60s')
        .sign(privateKey);

    /** A token request that fails on the grant (invalid_grant) once client authentication has passed. */
    const tokenRequest = (clientAssertion: string, headers: Record<string, string> = {}) =>
      postForm(
        h.url('/token'),
        {
          grant_type: 'refresh_token',
          refresh_token: 'not-a-real-token',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: clientAssertion,
        },
        { headers },
      );

    it('the same assertion twice: the second is 401 invalid_client', async () => {
      const once = await assertion();
      const first = await tokenRequest(once);
      expect(first.status).toBe(400);
      expect(first.json().error).toBe('invalid_grant');
      const second = await tokenRequest(once);
      expect(second.status).toBe(401);
      expect(second.json().error).toBe('invalid_client');
    });

    it('five racing copies of one assertion: at most one authenticates, none is a 5xx', async () => {
      const once = await assertion();
      const answers = await Promise.all(Array.from({ length: 5 }, () => tokenRequest(once)));
      const outcomes = answers.map((a) => `${a.status} ${a.json().error}`);
      expect(answers.filter((a) => a.status >= 500), outcomes.join(', ')).toEqual([]);
      // Past client authentication = on to the grant, which then fails with invalid_grant.
      expect(outcomes.filter((o) => o === '400 invalid_grant').length, outcomes.join(', ')).toBeLessThanOrEqual(1);
      // The losers are refused as a replay: invalid_client, or the adapter's insert-only refusal
      // (invalid_request) when the copies met inside the store (pitfall 10).
      for (const outcome of outcomes.filter((o) => o !== '400 invalid_grant')) expect(outcome).toMatch(/^(401 invalid_client|400 invalid_request)$/);
    });

    it('aud must be the issuer identifier, as a single string', async () => {
      const refused: string[] = [];
      for (const aud of [h.url('/token'), [h.issuer, 'https://evil.example'], [h.issuer], 'https://evil.example/token', `${h.issuer}/`]) {
        const answer = await tokenRequest(await assertion(aud));
        if (answer.status !== 401) refused.push(`aud ${JSON.stringify(aud)} → ${answer.status} ${answer.json().error}`);
      }
      expect(refused).toEqual([]);
    });

    it('an assertion signed for another server cannot be replayed here by naming that server in Host', async () => {
      // The client signed this for the token endpoint of evil.example; evil.example replays it.
      const forEvil = await assertion('http://evil.example/token');
      const port = new URL(h.issuer).port;
      const replay = await rawHttp(`http://127.0.0.1:${port}/token`, {
        method: 'POST',
        headers: { host: 'evil.example', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: 'not-a-real-token',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: forEvil,
        }).toString(),
      });
      expect(replay.status, replay.body).toBe(401);
    });

    it('control: a fresh assertion for the issuer authenticates', async () => {
      const answer = await tokenRequest(await assertion());
      expect(answer.status).toBe(400);
      expect(answer.json().error).toBe('invalid_grant');
    });
  });
});
