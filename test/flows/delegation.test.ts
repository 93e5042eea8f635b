// The delegation story end to end: a user lets apps act for them with limited scopes, and the
// contacts API (demo/contacts-api, a real resource server on loopback) enforces those limits
// with tokens checked against a real Latchkey server.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContactsApi } from '../../demo/contacts-api/app.ts';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CALENDAR, CONTACTS, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { STORES } from '../helpers/databases.ts';

interface Api {
  url: string;
  close(): Promise<void>;
}

/** Listens first (the app is told its own origin), then serves the app. */
async function listen(build: (origin: string) => Koa): Promise<Api> {
  let handle: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  handle = build(url).callback();
  return {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The contacts API for the fixtures' contacts resource, on a port of its own. */
function contactsApi(issuer: string, f: Fixtures, logged: string[] = []): Promise<Api> {
  return listen((origin) =>
    createContactsApi({
      issuer,
      resource: CONTACTS,
      clientId: f.contacts.clientId,
      clientSecret: f.contacts.clientSecret,
      timeoutMs: 2000,
      publicUrl: origin,
      log: (message) => logged.push(message),
    }),
  );
}

/** An address where nothing listens: an authorization server that is down. */
async function deadIssuer(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function call(api: Api, path: string, token?: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers };
  return fetch(`${api.url}${path}`, { method: init.method ?? 'GET', body: init.body, headers });
}

const postContact = (api: Api, token: string, contact: unknown) =>
  call(api, '/contacts', token, { method: 'POST', body: JSON.stringify(contact), headers: { 'content-type': 'application/json' } });

/** RFC 6750 §3: the status, the challenge's error code, and the same code in the JSON body. */
async function expectRefusal(response: Response, status: number, error: string) {
  expect(response.status).toBe(status);
  const challenge = response.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer /);
  // RFC 9728 §5.1: where the client learns about this API.
  expect(challenge).toContain('resource_metadata="');
  expect(challenge).toContain(`error="${error}"`);
  expect(challenge).toMatch(/error_description="[^"]+"/);
  expect(await response.json()).toMatchObject({ error, error_description: expect.any(String) });
}

describe.each(STORES)('delegation to the contacts API (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let api: Api;
  let reader: client.Configuration;
  let editor: client.Configuration;
  /** The reader app's token for alice: contacts:read only. */
  let readToken: string;
  /** The editor app's token for alice: contacts:read and contacts:write. */
  let writeToken: string;
  const logged: string[] = [];

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    api = await contactsApi(h.issuer, f, logged);
    reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    readToken = (await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens.access_token;
    const granted = await codeFlow(editor, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read contacts:write' });
    expect(granted.tokens.scope).toBe('contacts:read contacts:write');
    writeToken = granted.tokens.access_token;
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  it('lets the reader app read, and only read', async () => {
    const list = await call(api, '/contacts', readToken);
    expect(list.status).toBe(200);
    expect(list.headers.get('cache-control')).toBe('no-store');
    expect(await list.json()).toEqual({ contacts: expect.any(Array) });

    const post = await postContact(api, readToken, { name: 'Bob', email: 'bob@example.com' });
    await expectRefusal(post, 403, 'insufficient_scope');
    expect(post.headers.get('www-authenticate')).toContain('scope="contacts:write"');
    await expectRefusal(await call(api, '/contacts/some-id', readToken, { method: 'DELETE' }), 403, 'insufficient_scope');
  });

  it('lets the editor app add and delete; the user sees the same contacts through either app', async () => {
    const created = await postContact(api, writeToken, { name: 'Bob Builder', email: 'bob@example.com' });
    expect(created.status).toBe(201);
    const contact = (await created.json()) as { id: string; name: string; email: string };
    expect(contact).toMatchObject({ id: expect.any(String), name: 'Bob Builder', email: 'bob@example.com' });
    expect(created.headers.get('location')).toBe(`/contacts/${contact.id}`);

    for (const token of [writeToken, readToken]) {
      const { contacts } = (await (await call(api, '/contacts', token)).json()) as { contacts: { id: string }[] };
      expect(contacts.map((c) => c.id)).toContain(contact.id);
    }

    expect((await call(api, `/contacts/${contact.id}`, writeToken, { method: 'DELETE' })).status).toBe(204);
    expect((await call(api, `/contacts/${contact.id}`, writeToken, { method: 'DELETE' })).status).toBe(404);
    const { contacts } = (await (await call(api, '/contacts', readToken)).json()) as { contacts: { id: string }[] };
    expect(contacts.map((c) => c.id)).not.toContain(contact.id);
  });

  it('refuses a token issued for another API (audience)', async () => {
    const { tokens } = await codeFlow(editor, f.user, { redirect_uri: REDIRECT, scope: 'calendar:read' });
    // Really a calendar token, alive at its own resource server.
    const calendarRs = await confidentialClient(h, f.calendar.clientId, f.calendar.clientSecret);
    expect(await client.tokenIntrospection(calendarRs, tokens.access_token)).toMatchObject({ active: true, aud: CALENDAR });

    await expectRefusal(await call(api, '/contacts', tokens.access_token), 401, 'invalid_token');
  });

  it('refuses a revoked token on the very next request', async () => {
    const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    expect((await call(api, '/contacts', tokens.access_token)).status).toBe(200);
    await client.tokenRevocation(reader, tokens.access_token);
    await expectRefusal(await call(api, '/contacts', tokens.access_token), 401, 'invalid_token');
  });

  it('asks for a token when there is none, without an error code', async () => {
    const withoutBearer: Record<string, string>[] = [{}, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }];
    for (const headers of withoutBearer) {
      const response = await call(api, '/contacts', undefined, { headers });
      expect(response.status).toBe(401);
      // RFC 6750 §3.1: no error code when the request carried no Bearer credentials; the scope to
      // ask for and where to learn more (RFC 9728 §5.1).
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer scope="contacts:read", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource"$/);
    }
  });

  it('does not accept a token in the query string', async () => {
    const inQuery = await call(api, `/contacts?access_token=${encodeURIComponent(readToken)}`);
    expect(inQuery.status).toBe(401);
    expect(inQuery.headers.get('www-authenticate')).not.toContain('error=');
    // Both ways at once is a malformed request (RFC 6750 §3.1 invalid_request).
    await expectRefusal(await call(api, `/contacts?access_token=${encodeURIComponent(readToken)}`, readToken), 400, 'invalid_request');
  });

  it('refuses garbage and malformed credentials', async () => {
    await expectRefusal(await call(api, '/contacts', 'not-a-real-token'), 401, 'invalid_token');
    await expectRefusal(await call(api, '/contacts', 'aaaa.bbbb.cccc'), 401, 'invalid_token');
    await expectRefusal(await call(api, '/contacts', 'x'.repeat(10_000)), 401, 'invalid_token');
    const malformed = await call(api, '/contacts', undefined, { headers: { authorization: 'Bearer two words' } });
    await expectRefusal(malformed, 400, 'invalid_request');
  });

  it('answers bad request bodies with 4xx, never a 500', async () => {
    const post = (body: string, type = 'application/json') =>
      call(api, '/contacts', writeToken, { method: 'POST', body, headers: { 'content-type': type } });

    const malformed = await post('{"name": "Bob", ');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: 'invalid_request' });
    expect((await post(JSON.stringify({ name: 'Bob', email: 'x'.repeat(20_000) }))).status).toBe(413);
    expect((await post('name=Bob', 'application/x-www-form-urlencoded')).status).toBe(415);
    for (const body of ['[]', '"text"', '{}', '{"name":"Bob","email":"no-at-sign"}', '{"name":" ","email":"bob@example.com"}', '{"name":"Bob","email":"bob@example.com","admin":true}']) {
      const response = await post(body);
      expect(response.status, body).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.any(String) });
    }
    expect(logged).toEqual([]);
  });

  it('answers unknown paths and methods in JSON too', async () => {
    const missing = await call(api, '/nothing-here', writeToken);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
    const put = await call(api, '/contacts', writeToken, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toContain('POST');
    expect(await put.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('gives a client acting on its own (client_credentials) its own, separate bucket', async () => {
    await postContact(api, writeToken, { name: 'Carol', email: 'carol@example.com' });
    const service = await confidentialClient(h, f.service.clientId, f.service.clientSecret);
    const { access_token } = await client.clientCredentialsGrant(service, { scope: 'contacts:read' });
    const response = await call(api, '/contacts', access_token);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ contacts: [] });
  });

  it('answers 503, not 401, when the authorization server is down', async () => {
    const down = await contactsApi(await deadIssuer(), f, logged);
    try {
      const response = await call(down, '/contacts', readToken);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
      expect(logged.at(-1)).toMatch(/authorization server unavailable/);
    } finally {
      await down.close();
    }
  });

  describe('with JWT access tokens (RFC 9068)', () => {
    let j: Harness;
    let g: Fixtures;
    let jwtApi: Api;
    let tokens: Awaited<ReturnType<typeof codeFlow>>['tokens'];

    beforeAll(async () => {
      j = await startServer({ store });
      g = await createFixtures(j, { contactsFormat: 'jwt' });
      jwtApi = await contactsApi(j.issuer, g);
      const app = await confidentialClient(j, g.reader.clientId, g.reader.clientSecret);
      ({ tokens } = await codeFlow(app, g.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' }));
    });
    afterAll(async () => {
      await jwtApi?.close();
      await j?.close();
    });

    it('issues a token for exactly this API, typed at+jwt, verifiable with the JWKS', async () => {
      expect(decodeProtectedHeader(tokens.access_token).typ).toBe('at+jwt');
      expect(decodeJwt(tokens.access_token).aud).toBe(CONTACTS);
      const jwks = createRemoteJWKSet(new URL(j.url('/jwks')));
      const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: j.issuer, audience: CONTACTS, typ: 'at+jwt' });
      expect(payload).toMatchObject({ sub: g.user.id, client_id: g.reader.clientId, scope: 'contacts:read' });
    });

    it('is accepted for reading and refused for writing', async () => {
      expect((await call(jwtApi, '/contacts', tokens.access_token)).status).toBe(200);
      const post = await postContact(jwtApi, tokens.access_token, { name: 'Dan', email: 'dan@example.com' });
      await expectRefusal(post, 403, 'insufficient_scope');
      expect(post.headers.get('www-authenticate')).toContain('scope="contacts:write"');
    });

    it('refuses an ID token, and expired, other-audience or untyped tokens, all signed by the issuer', async () => {
      // An ID token is a JWT from the same issuer with the same key, but typ JWT and aud the client.
      await expectRefusal(await call(jwtApi, '/contacts', tokens.id_token as string), 401, 'invalid_token');

      const jwk = j.keys.signing[0]!;
      const key = await importJWK(jwk, 'RS256');
      const now = Math.floor(Date.now() / 1000);
      const sign = (claims: Record<string, unknown>, exp: number, typ = 'at+jwt') =>
        new SignJWT({ client_id: g.reader.clientId, scope: 'contacts:read', ...claims })
          .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ })
          .setIssuer(j.issuer)
          .setSubject(g.user.id)
          .setJti(crypto.randomUUID())
          .setIssuedAt(now - 120)
          .setExpirationTime(exp)
          .sign(key);

      expect((await call(jwtApi, '/contacts', await sign({ aud: CONTACTS }, now + 60))).status).toBe(200);
      const expired = await call(jwtApi, '/contacts', await sign({ aud: CONTACTS }, now - 60));
      await expectRefusal(expired, 401, 'invalid_token');
      expect(expired.headers.get('www-authenticate')).toContain('expired');
      await expectRefusal(await call(jwtApi, '/contacts', await sign({ aud: CALENDAR }, now + 60)), 401, 'invalid_token');
      await expectRefusal(await call(jwtApi, '/contacts', await sign({ aud: [CONTACTS, CALENDAR] }, now + 60)), 401, 'invalid_token');
      // Everything right but the type: not an access token (RFC 9068 §4).
      await expectRefusal(await call(jwtApi, '/contacts', await sign({ aud: CONTACTS }, now + 60, 'JWT')), 401, 'invalid_token');
    });

    it('answers 503 when the signing keys cannot be fetched', async () => {
      const down = await contactsApi(await deadIssuer(), g);
      try {
        expect((await call(down, '/contacts', tokens.access_token)).status).toBe(503);
      } finally {
        await down.close();
      }
    });
  });
});
