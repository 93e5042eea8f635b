// Opaque access tokens checked by introspection (RFC 7662): accepted in every framework,
// refused when meant for another API, and revocation seen within the documented bound: at once
// with the cache off, within introspectionCacheSeconds with it on. The verifier's calls to the
// issuer are counted on undici's diagnostics channel to show what the cache does and does not keep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { basic } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';
import { createTokenVerifier, type TokenVerifierOptions } from '../../resource-server/index.ts';
import { call, clientCredentialsToken, countRequests, FRAMEWORKS, metadataUrl, sleep, startApi, type Api } from './support.ts';

describe.each(STORES)('opaque access tokens (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let userToken: string;
  let calendarToken: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h, { contactsFormat: 'opaque' });
    const { tokens } = await codeFlow(await confidentialClient(h, f.reader.clientId, f.reader.clientSecret), f.user, {
      redirect_uri: REDIRECT,
      scope: 'openid contacts:read',
    });
    userToken = tokens.access_token;
    const editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    calendarToken = (await codeFlow(editor, f.user, { redirect_uri: REDIRECT, scope: 'openid calendar:read' })).tokens.access_token;
  });
  afterAll(async () => h?.close());

  const verifierOptions = (extra: Partial<TokenVerifierOptions> = {}): TokenVerifierOptions => ({
    issuer: h.issuer,
    resource: f.contacts.id,
    clientId: f.contacts.clientId,
    clientSecret: f.contacts.clientSecret,
    ...extra,
  });
  const serviceToken = () => clientCredentialsToken(h.issuer, f.service, { scope: 'contacts:read' });
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  const revoke = async (token: string) => {
    const response = await fetch(h.url('/token/revocation'), {
      method: 'POST',
      headers: { authorization: basic(f.service.clientId, f.service.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
    expect(response.status).toBe(200);
  };

  describe.each(FRAMEWORKS)('in %s', (framework) => {
    let api: Api;
    beforeAll(async () => {
      api = await startApi(framework, (origin) => ({ ...verifierOptions(), publicUrl: origin }));
    });
    afterAll(async () => api?.close());

    it("accepts a user's opaque token", async () => {
      expect(userToken).not.toContain('.');
      const answer = await call(api.url('/contacts'), bearer(userToken));
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ sub: f.user.id, clientId: f.reader.clientId, scopes: ['contacts:read'], audience: f.contacts.id, format: 'opaque' });
      expect(answer.body.expiresAt).toBeGreaterThan(Date.now() / 1000);
    });

    it('refuses a token for another API (the calendar)', async () => {
      const answer = await call(api.url('/contacts'), bearer(calendarToken));
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe(
        `Bearer error="invalid_token", error_description="The access token is not active or not meant for this API", resource_metadata="${metadataUrl(api)}"`,
      );
    });
  });

  it('with the cache off, a revoked token is refused on the very next request', async () => {
    const api = await startApi('express', (origin) => ({ ...verifierOptions({ introspectionCacheSeconds: 0 }), publicUrl: origin }));
    try {
      const token = await serviceToken();
      expect((await call(api.url('/contacts'), bearer(token))).status).toBe(200);
      await revoke(token);
      expect((await call(api.url('/contacts'), bearer(token))).status).toBe(401);
    } finally {
      await api.close();
    }
  });

  it('with the default cache (5 s), a revoked token is refused within 5 s of the check that cached it', async () => {
    const api = await startApi('koa', (origin) => ({ ...verifierOptions(), publicUrl: origin }));
    try {
      const token = await serviceToken();
      const cachedAt = Date.now();
      expect((await call(api.url('/contacts'), bearer(token))).status).toBe(200);
      await revoke(token);
      // The documented staleness: the cached answer still stands right after the revocation...
      expect((await call(api.url('/contacts'), bearer(token))).status).toBe(200);
      // ...and no longer once the cache time since the caching check has passed.
      let refusedAt: number | undefined;
      while (refusedAt === undefined && Date.now() - cachedAt < 8000) {
        await sleep(100);
        if ((await call(api.url('/contacts'), bearer(token))).status === 401) refusedAt = Date.now();
      }
      expect(refusedAt).toBeDefined();
      expect((refusedAt as number) - cachedAt).toBeLessThanOrEqual(5000 + 500);
      expect((await call(api.url('/contacts'), bearer(token))).status).toBe(401);
    } finally {
      await api.close();
    }
  });

  describe('introspection requests', () => {
    const request = (token: string) => ({ method: 'GET', url: 'http://127.0.0.1/contacts', authorization: `Bearer ${token}` });
    let counter: ReturnType<typeof countRequests>;
    beforeAll(() => {
      counter = countRequests(h.url('/token/introspection'));
    });
    afterAll(() => counter?.stop());

    it('the default cache asks once for ten checks of one token; with the cache off, ten times', async () => {
      const token = await serviceToken();
      const cached = createTokenVerifier(verifierOptions());
      let before = counter.count;
      for (let i = 0; i < 10; i += 1) await cached.verifyRequest(request(token));
      expect(counter.count - before).toBe(1);

      const uncached = createTokenVerifier(verifierOptions({ introspectionCacheSeconds: 0 }));
      before = counter.count;
      for (let i = 0; i < 10; i += 1) await uncached.verifyRequest(request(token));
      expect(counter.count - before).toBe(10);
    });

    it('twenty concurrent checks of one token share one request, even with the cache off', async () => {
      const token = await serviceToken();
      const verifier = createTokenVerifier(verifierOptions({ introspectionCacheSeconds: 0 }));
      const before = counter.count;
      const results = await Promise.all(Array.from({ length: 20 }, () => verifier.verifyRequest(request(token))));
      expect(results.every((r) => r.clientId === f.service.clientId)).toBe(true);
      expect(counter.count - before).toBe(1);
    });

    it('never keeps a negative answer: an unknown token is asked about every time', async () => {
      const verifier = createTokenVerifier(verifierOptions());
      const before = counter.count;
      for (let i = 0; i < 3; i += 1) await expect(verifier.verifyRequest(request('no-such-token'))).rejects.toMatchObject({ status: 401 });
      expect(counter.count - before).toBe(3);
      // A token issued a moment ago works on its first use.
      const fresh = await serviceToken();
      await expect(verifier.verifyRequest(request(fresh))).resolves.toMatchObject({ format: 'opaque' });
    });

    it('keeps at most introspectionCacheMaxEntries answers, the oldest going first', async () => {
      const verifier = createTokenVerifier(verifierOptions({ introspectionCacheMaxEntries: 2 }));
      const [a, b, c] = await Promise.all([serviceToken(), serviceToken(), serviceToken()]) as [string, string, string];
      for (const token of [a, b, c]) await verifier.verifyRequest(request(token));
      const before = counter.count;
      await verifier.verifyRequest(request(c));
      await verifier.verifyRequest(request(b));
      expect(counter.count - before).toBe(0);
      await verifier.verifyRequest(request(a));
      expect(counter.count - before).toBe(1);
    });
  });
});
