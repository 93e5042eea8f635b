// JWT access tokens (RFC 9068) checked offline: real tokens from a real Latchkey accepted in
// every framework; tokens for another API, tampered, forged or of the wrong type refused. The
// claim rules the issuer never breaks are checked with tokens signed by the issuer's own key.
import crypto from 'node:crypto';
import { importJWK, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { STORES } from '../helpers/databases.ts';
import { call, clientCredentialsToken, FRAMEWORKS, metadataUrl, startApi, type Api } from './support.ts';

const NOTES = 'https://notes.api.test';

describe.each(STORES)('JWT access tokens (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let userToken: { access: string; id: string };
  let serviceToken: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h, { contactsFormat: 'jwt' });
    const { tokens } = await codeFlow(await confidentialClient(h, f.reader.clientId, f.reader.clientSecret), f.user, {
      redirect_uri: REDIRECT,
      scope: 'openid contacts:read',
    });
    userToken = { access: tokens.access_token, id: tokens.id_token as string };
    serviceToken = await clientCredentialsToken(h.issuer, f.service, { scope: 'contacts:read' });
  });
  afterAll(async () => h?.close());

  const options = (origin: string) => ({ issuer: h.issuer, resource: f.contacts.id, publicUrl: origin });
  const invalid = (api: Api, description: string) =>
    `Bearer error="invalid_token", error_description="${description}", resource_metadata="${metadataUrl(api)}"`;

  describe.each(FRAMEWORKS)('in %s', (framework) => {
    let api: Api;
    beforeAll(async () => {
      // No introspection credentials: a JWT-only API never needs them.
      api = await startApi(framework, options);
    });
    afterAll(async () => api?.close());

    it("accepts a user's token and hands the route who it acts for", async () => {
      expect(userToken.access.split('.')).toHaveLength(3);
      const answer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${userToken.access}` } });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ sub: f.user.id, clientId: f.reader.clientId, scopes: ['contacts:read'], audience: f.contacts.id, format: 'jwt' });
      expect(answer.body.jkt).toBeUndefined();
      const expiresIn = (answer.body.expiresAt as number) - Date.now() / 1000;
      expect(expiresIn).toBeGreaterThan(60);
      expect(expiresIn).toBeLessThanOrEqual(h.config.ttl.accessToken + 1);
    });

    it("accepts a service client's token, which acts for no user", async () => {
      const answer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${serviceToken}` } });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ clientId: f.service.clientId, scopes: ['contacts:read'], format: 'jwt' });
      expect(answer.body.sub).toBeUndefined();
    });

    it('refuses a token whose signature was tampered with', async () => {
      const [header, payload, signature] = serviceToken.split('.') as [string, string, string];
      const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
      const answer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${header}.${payload}.${flipped}` } });
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe(invalid(api, 'The access token signature is invalid'));
    });
  });

  describe('refusals (Koa)', () => {
    let api: Api;
    beforeAll(async () => {
      api = await startApi('koa', options);
    });
    afterAll(async () => api?.close());

    async function refusal(token: string) {
      const answer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(401);
      return answer.headers['www-authenticate'];
    }

    it("refuses a token for another API (the issuer's real token, another audience)", async () => {
      await h.management.resources.add({ id: NOTES, tokenFormat: 'jwt', scopes: [{ scope: 'notes:read', description: 'Read notes' }] });
      const notesClient = await h.management.clients.add({ name: 'Notes sync', grantTypes: ['client_credentials'], scope: 'notes:read', resources: [NOTES] });
      await h.app.catalog.reload();
      const notesToken = await clientCredentialsToken(h.issuer, { clientId: notesClient.clientId, clientSecret: notesClient.clientSecret as string }, { scope: 'notes:read' });
      expect(await refusal(notesToken)).toBe(invalid(api, 'The access token is not meant for this API'));
    });

    it('refuses an ID token: same issuer, same keys, but typ JWT and not an access token (RFC 9068 §4)', async () => {
      expect(await refusal(userToken.id)).toBe(invalid(api, 'The token is not a JWT access token (typ must be at+jwt)'));
    });

    it('refuses alg none and HMAC tokens, and keys the issuer does not publish', async () => {
      const claims = { iss: h.issuer, aud: f.contacts.id, client_id: f.service.clientId, scope: 'contacts:read', jti: crypto.randomUUID() };
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(
        JSON.stringify({ ...claims, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60 }),
      ).toString('base64url')}.`;
      // With an empty signature it is not a JWS in shape: it would go to introspection, which this API has not.
      expect(await refusal(unsigned)).toBe(invalid(api, 'This API accepts JWT access tokens only'));
      expect(await refusal(`${unsigned}AAAA`)).toBe(invalid(api, 'The access token is signed with an algorithm this API does not accept'));
      const hmac = await sign({ ...claims }, { alg: 'HS256', key: crypto.randomBytes(32) });
      expect(await refusal(hmac)).toBe(invalid(api, 'The access token is signed with an algorithm this API does not accept'));
      const stranger = await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign']);
      const foreign = await sign({ ...claims }, { alg: 'RS256', key: stranger.privateKey, kid: 'not-the-issuers' });
      expect(await refusal(foreign)).toBe(invalid(api, 'The access token is signed with a key the authorization server does not publish'));
    });

    // Signed with the issuer's own active key: the rules the issuer would never break, still enforced.
    async function issuerSigned(claims: JWTPayload, typ = 'at+jwt') {
      const jwk = h.keys.signing[0] as unknown as Record<string, string>;
      return sign(
        { iss: h.issuer, aud: f.contacts.id, client_id: f.service.clientId, scope: 'contacts:read', jti: crypto.randomUUID(), ...claims },
        { alg: jwk.alg ?? 'RS256', key: await importJWK(jwk, jwk.alg ?? 'RS256'), kid: jwk.kid, typ },
      );
    }

    it('takes typ case-insensitively, with or without application/ (RFC 9068 §4)', async () => {
      for (const typ of ['AT+JWT', 'application/at+jwt']) {
        const answer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${await issuerSigned({}, typ)}` } });
        expect(answer.status).toBe(200);
      }
    });

    it('refuses two audiences, another issuer, iat in the future, nbf ahead, expiry, a missing client_id, an mTLS binding', async () => {
      const now = Math.floor(Date.now() / 1000);
      expect(await refusal(await issuerSigned({ aud: [f.contacts.id, NOTES] }))).toBe(invalid(api, 'The access token must have this API as its only audience'));
      expect(await refusal(await issuerSigned({ iss: 'https://elsewhere.example' }))).toBe(invalid(api, 'The access token was issued by another authorization server'));
      expect(await refusal(await issuerSigned({ iat: now + 60 }))).toBe(invalid(api, 'The access token has an invalid iat claim'));
      expect(await refusal(await issuerSigned({ nbf: now + 60 }))).toBe(invalid(api, 'The access token is not valid yet'));
      expect(await refusal(await issuerSigned({ exp: now - 10 }))).toBe(invalid(api, 'The access token has expired'));
      expect(await refusal(await issuerSigned({ client_id: undefined }))).toBe(invalid(api, 'The access token has an invalid or missing client_id claim'));
      expect(await refusal(await issuerSigned({ cnf: { 'x5t#S256': 'abc' } }))).toBe(invalid(api, 'The access token is bound to a key in a way this API cannot check'));
      // Within the 5 s leeway: a clock a little behind the issuer's still accepts.
      expect((await call(api.url('/contacts'), { headers: { authorization: `Bearer ${await issuerSigned({ exp: now - 2 })}` } })).status).toBe(200);
    });
  });
});

async function sign(claims: JWTPayload, { alg, key, kid, typ = 'at+jwt' }: { alg: string; key: CryptoKey | Uint8Array; kid?: string; typ?: string }) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg, typ, ...(kid ? { kid } : {}) })
    .sign(key);
}
