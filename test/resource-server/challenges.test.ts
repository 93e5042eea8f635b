// What a client sees when the API refuses it (RFC 6750 §3, RFC 9728 §5.1): the exact status,
// WWW-Authenticate value, Cache-Control and JSON body, identical in Koa, Express and plain Node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { call, clientCredentialsToken, FRAMEWORKS, metadataUrl, startApi, type Answer, type Api } from './support.ts';

describe.each(STORES)('refusals and their challenges (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let readToken: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h, { contactsFormat: 'opaque' });
    readToken = await clientCredentialsToken(h.issuer, f.service, { scope: 'contacts:read' });
  });
  afterAll(async () => h?.close());

  describe.each(FRAMEWORKS)('in %s', (framework) => {
    let api: Api;
    beforeAll(async () => {
      api = await startApi(framework, (origin) => ({
        issuer: h.issuer,
        resource: f.contacts.id,
        clientId: f.contacts.clientId,
        clientSecret: f.contacts.clientSecret,
        publicUrl: origin,
      }));
    });
    afterAll(async () => api?.close());

    function expectRefusal(answer: Answer, status: number, wwwAuthenticate: string, body: Record<string, unknown>) {
      expect(answer.status).toBe(status);
      expect(answer.headers['www-authenticate']).toBe(wwwAuthenticate);
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.body).toEqual(body);
    }

    it('no token: 401 with the metadata URL and the scope to start with, no error code (RFC 6750 §3.1)', async () => {
      const noToken = { error_description: 'This API needs an access token in the Authorization header' };
      const challenge = `Bearer scope="contacts:read", resource_metadata="${metadataUrl(api)}"`;
      expectRefusal(await call(api.url('/contacts')), 401, challenge, noToken);
      // Another scheme is no token for us either.
      expectRefusal(await call(api.url('/contacts'), { headers: { authorization: 'Basic YTpi' } }), 401, challenge, noToken);
      // A route that needs no scope: the metadata URL alone.
      expectRefusal(await call(api.url('/me')), 401, `Bearer resource_metadata="${metadataUrl(api)}"`, noToken);
    });

    it('a token in the query string only is never read: as if there were none', async () => {
      const answer = await call(api.url(`/contacts?access_token=${readToken}`));
      expectRefusal(answer, 401, `Bearer scope="contacts:read", resource_metadata="${metadataUrl(api)}"`, {
        error_description: 'This API needs an access token in the Authorization header',
      });
    });

    it('a malformed Authorization header: 400 invalid_request', async () => {
      const description = 'The Authorization header is malformed: expected Bearer followed by the access token';
      const challenge = `Bearer error="invalid_request", error_description="${description}", resource_metadata="${metadataUrl(api)}"`;
      for (const authorization of ['Bearer', 'Bearer two words', 'Bearer t@ken', `Bearer ${readToken} extra`]) {
        expectRefusal(await call(api.url('/contacts'), { headers: { authorization } }), 400, challenge, { error: 'invalid_request', error_description: description });
      }
      const twice = await call(api.url('/contacts'), { headers: { authorization: [`Bearer ${readToken}`, `Bearer ${readToken}`] } });
      expect(twice.status).toBe(400);
      expect(twice.headers['www-authenticate']).toBe(
        `Bearer error="invalid_request", error_description="The request has more than one Authorization header", resource_metadata="${metadataUrl(api)}"`,
      );
    });

    it('an invalid token: 401 invalid_token, whichever shape it has', async () => {
      const unknown = 'The access token is not active or not meant for this API';
      expectRefusal(
        await call(api.url('/contacts'), { headers: { authorization: 'Bearer not-a-token-latchkey-issued' } }),
        401,
        `Bearer error="invalid_token", error_description="${unknown}", resource_metadata="${metadataUrl(api)}"`,
        { error: 'invalid_token', error_description: unknown },
      );
      const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.AAAA';
      const answer = await call(api.url('/contacts'), { headers: { authorization: `bearer ${forged}` } });
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="/);
    });

    it('too narrow a token: 403 insufficient_scope naming every scope the route needs', async () => {
      const answer = await call(api.url('/contacts'), { method: 'POST', headers: { authorization: `Bearer ${readToken}` } });
      expectRefusal(
        answer,
        403,
        `Bearer error="insufficient_scope", error_description="The access token lacks the scope contacts:write", scope="contacts:read contacts:write", resource_metadata="${metadataUrl(api)}"`,
        { error: 'insufficient_scope', error_description: 'The access token lacks the scope contacts:write' },
      );
      // The same token on the read route is fine: the refusal was about scope only.
      expect((await call(api.url('/contacts'), { headers: { authorization: `Bearer ${readToken}` } })).status).toBe(200);
    });
  });

  it('requiredScopes apply to routes that name none; a route that names some replaces them', async () => {
    const api = await startApi('koa', (origin) => ({
      issuer: h.issuer,
      resource: f.contacts.id,
      clientId: f.contacts.clientId,
      clientSecret: f.contacts.clientSecret,
      publicUrl: origin,
      requiredScopes: ['contacts:write'],
    }));
    try {
      const me = await call(api.url('/me'), { headers: { authorization: `Bearer ${readToken}` } });
      expect(me.status).toBe(403);
      expect(me.headers['www-authenticate']).toContain('scope="contacts:write"');
      expect((await call(api.url('/contacts'), { headers: { authorization: `Bearer ${readToken}` } })).status).toBe(200);
    } finally {
      await api.close();
    }
  });
});
