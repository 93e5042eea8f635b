// Tokens that really expire: a resource server with the shortest lifetime Latchkey allows
// (10 s), one token of each format, used before and after its exp. The introspection cache is
// set to its longest (30 s) to show that a cached answer never outlives the token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { STORES } from '../helpers/databases.ts';
import { call, clientCredentialsToken, countRequests, metadataUrl, sleep, startApi, type Api } from './support.ts';

const SHORT_JWT = 'https://short-jwt.api.test';
const SHORT_OPAQUE = 'https://short-opaque.api.test';

describe.each(STORES)('expired access tokens (%s)', (store) => {
  let h: Harness;
  let jwtApi: Api;
  let opaqueApi: Api;
  let jwtToken: string;
  let opaqueToken: string;

  beforeAll(async () => {
    h = await startServer({ store });
    await h.management.resources.add({ id: SHORT_JWT, tokenFormat: 'jwt', accessTokenTtl: 10, scopes: [{ scope: 'short:jwt', description: 'Short JWT' }] });
    const opaque = await h.management.resources.add({ id: SHORT_OPAQUE, accessTokenTtl: 10, scopes: [{ scope: 'short:opaque', description: 'Short opaque' }] });
    const client = await h.management.clients.add({ name: 'Short-lived', grantTypes: ['client_credentials'], scope: 'short:jwt short:opaque', resources: [SHORT_JWT, SHORT_OPAQUE] });
    await h.app.catalog.reload();
    const service = { clientId: client.clientId, clientSecret: client.clientSecret as string };
    // No leeway, so the test need not wait for it.
    jwtApi = await startApi('koa', (origin) => ({ issuer: h.issuer, resource: SHORT_JWT, publicUrl: origin, clockToleranceSeconds: 0 }), { read: 'short:jwt', write: 'short:write' });
    opaqueApi = await startApi(
      'express',
      (origin) => ({ issuer: h.issuer, resource: SHORT_OPAQUE, clientId: opaque.clientId, clientSecret: opaque.clientSecret, publicUrl: origin, clockToleranceSeconds: 0, introspectionCacheSeconds: 30 }),
      { read: 'short:opaque', write: 'short:write' },
    );
    [jwtToken, opaqueToken] = await Promise.all([
      clientCredentialsToken(h.issuer, service, { scope: 'short:jwt' }),
      clientCredentialsToken(h.issuer, service, { scope: 'short:opaque' }),
    ]);
  });
  afterAll(async () => {
    await jwtApi?.close();
    await opaqueApi?.close();
    await h?.close();
  });

  it('both are accepted until their exp and refused after it; the cached introspection answer ends with the token', async () => {
    const introspections = countRequests(h.url('/token/introspection'));
    try {
      const jwt = await call(jwtApi.url('/contacts'), { headers: { authorization: `Bearer ${jwtToken}` } });
      const opaque = await call(opaqueApi.url('/contacts'), { headers: { authorization: `Bearer ${opaqueToken}` } });
      expect([jwt.status, opaque.status]).toEqual([200, 200]);
      expect(introspections.count).toBe(1);
      const exp = Math.max(jwt.body.expiresAt as number, opaque.body.expiresAt as number);
      expect(exp - Date.now() / 1000).toBeLessThanOrEqual(10);

      await sleep(Math.max(0, exp * 1000 - Date.now()) + 300);

      const expiredJwt = await call(jwtApi.url('/contacts'), { headers: { authorization: `Bearer ${jwtToken}` } });
      expect(expiredJwt.status).toBe(401);
      expect(expiredJwt.headers['www-authenticate']).toBe(
        `Bearer error="invalid_token", error_description="The access token has expired", resource_metadata="${metadataUrl(jwtApi)}"`,
      );
      const expiredOpaque = await call(opaqueApi.url('/contacts'), { headers: { authorization: `Bearer ${opaqueToken}` } });
      expect(expiredOpaque.status).toBe(401);
      expect(expiredOpaque.body).toEqual({ error: 'invalid_token', error_description: 'The access token is not active or not meant for this API' });
      // The 30 s cache did not answer: the issuer was asked again, and said no.
      expect(introspections.count).toBe(2);
    } finally {
      introspections.stop();
    }
  });
});
