// The admin API against a real server on SQLite and PostgreSQL: tokens from a real OAuth client
// library, every answer validated against the server's own OpenAPI document, and at the end
// every documented answer must have been seen at least once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, CONTACTS, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { AdminApiClient, adminToken } from '../helpers/admin-api.ts';
import { client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { introspect } from '../helpers/token-requests.ts';
import { codeFlow as dpopCodeFlow, dpopKey } from '../helpers/dpop.ts';

describe.each(STORES)('admin API (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let api: AdminApiClient;
  let admin: { clientId: string; secret: string };
  let token: string;
  let readToken: string;

  beforeAll(async () => {
    h = await startServer({ store, env: { DYNAMIC_REGISTRATION: 'token' } });
    f = await createFixtures(h);
    const created = await h.management.admin.clients.add({ client_name: 'Ops console', admin: true }, { via: 'cli' });
    admin = { clientId: created.client_id, secret: created.client_secret as string };
    token = await adminToken(h.issuer, admin.clientId, admin.secret);
    readToken = await adminToken(h.issuer, admin.clientId, admin.secret, 'latchkey:admin.read');
    api = await AdminApiClient.load(h.issuer);
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('who may call it', () => {
    it('refuses a request without a token, with an RFC 6750 challenge that points at the metadata', async () => {
      const answer = await api.call('GET', '/users');
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('invalid_token');
      expect(answer.headers.get('www-authenticate')).toContain(`resource_metadata="${h.issuer}/.well-known/oauth-protected-resource/admin"`);
      const metadata = await (await fetch(`${h.issuer}/.well-known/oauth-protected-resource/admin`)).json();
      expect(metadata).toMatchObject({ resource: `${h.issuer}/admin`, authorization_servers: [h.issuer] });
    });

    it('refuses a token for another audience, a user’s token, and a made-up one', async () => {
      const service = await confidentialClient(h, f.service.clientId, f.service.clientSecret);
      const forContacts = (await client.clientCredentialsGrant(service, { scope: 'contacts:read', resource: CONTACTS })).access_token;
      expect((await api.call('GET', '/users', { token: forContacts })).status).toBe(401);
      const reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
      const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
      expect((await api.call('GET', '/users', { token: tokens.access_token })).status).toBe(401);
      expect((await api.call('GET', '/users', { token: 'x'.repeat(43) })).status).toBe(401);
      expect((await api.call('GET', '/users', { token: 'not a token' })).status).toBe(401);
    });

    it('lets a read-only token read, and answers 403 insufficient_scope when it tries to write', async () => {
      expect((await api.call('GET', '/clients', { token: readToken })).status).toBe(200);
      const refused = await api.call('POST', '/users', { token: readToken, body: { email: 'ro@example.com', password: 'long enough password' } });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toBe('insufficient_scope');
      expect(refused.headers.get('www-authenticate')).toContain('scope="latchkey:admin"');
      expect(await h.management.accounts.findByEmail('ro@example.com')).toBeUndefined();
    });

    it('only clients an operator made with --admin get admin tokens', async () => {
      const service = await confidentialClient(h, f.service.clientId, f.service.clientSecret);
      await expect(client.clientCredentialsGrant(service, { scope: 'latchkey:admin', resource: `${h.issuer}/admin` })).rejects.toMatchObject({ error: 'invalid_target' });
      // A self-registered client cannot claim the admin API in its registration.
      const iat = (await api.call('POST', '/initial-access-tokens', { token, body: {} })).body.initial_access_token as string;
      const registration = await fetch(`${h.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${iat}` },
        body: JSON.stringify({ redirect_uris: [REDIRECT], resource_scopes: { [`${h.issuer}/admin`]: 'latchkey:admin' } }),
      });
      expect(registration.status).toBe(400);
      expect(await registration.json()).toMatchObject({ error: 'invalid_client_metadata' });
      // An operator-made client may not name the admin API without --admin.
      const sneaky = await api.call('POST', '/clients', { token, body: { client_name: 'Sneaky', grant_types: ['client_credentials'], resources: [`${h.issuer}/admin`] } });
      expect(sneaky.status).toBe(400);
      expect(sneaky.body.fields).toHaveProperty('resources');
    });

    it('a revoked admin token, or one of a removed admin client, stops working at once', async () => {
      const made = await api.call('POST', '/clients', { token, body: { client_name: 'Short-lived console', admin: true } });
      expect(made.status).toBe(201);
      expect(made.body).toMatchObject({ grant_types: ['client_credentials'], redirect_uris: [] });
      const theirs = await adminToken(h.issuer, made.body.client_id, made.body.client_secret);
      expect((await api.call('GET', '/keys', { token: theirs })).status).toBe(200);
      const other = await adminToken(h.issuer, made.body.client_id, made.body.client_secret);
      const revocation = await fetch(`${h.issuer}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${made.body.client_id}:${made.body.client_secret}`).toString('base64')}` },
        body: new URLSearchParams({ token: other }),
      });
      expect(revocation.status).toBe(200);
      expect((await api.call('GET', '/keys', { token: other })).status).toBe(401);
      expect((await api.call('DELETE', `/clients/${encodeURIComponent(made.body.client_id)}`, { token })).status).toBe(204);
      expect((await api.call('GET', '/keys', { token: theirs })).status).toBe(401);
    });
  });

  describe('what it manages', () => {
    it('users: create, find by email, page, disable (sign-in refused), enable', async () => {
      const created = await api.call('POST', '/users', { token, body: { email: 'Bob@Example.com', password: 'a long enough password', name: 'Bob' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ email: 'bob@example.com', name: 'Bob', disabled: false, email_verified: false });
      expect((await api.call('POST', '/users', { token, body: { email: 'bob@example.com', password: 'another long password' } })).status).toBe(409);
      const found = await api.call('GET', '/users', { token: readToken, query: { email: 'BOB@example.com' } });
      expect(found.body.users.map((u: { id: string }) => u.id)).toEqual([created.body.id]);
      // Pages of one cover everyone exactly once.
      const ids: string[] = [];
      let after: string | undefined;
      do {
        const page = await api.call('GET', '/users', { token: readToken, query: { limit: '1', ...(after ? { after } : {}) } });
        ids.push(...page.body.users.map((u: { id: string }) => u.id));
        after = page.body.next_cursor ?? undefined;
      } while (after);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(expect.arrayContaining([created.body.id, f.user.id]));

      expect((await api.call('PATCH', `/users/${created.body.id}`, { token, body: { disabled: true } })).body.disabled).toBe(true);
      expect(await h.management.accounts.authenticate('bob@example.com', 'a long enough password')).toBeUndefined();
      expect((await api.call('PATCH', `/users/${created.body.id}`, { token, body: { disabled: false } })).body.disabled).toBe(false);
      expect(await h.management.accounts.authenticate('bob@example.com', 'a long enough password')).toBeDefined();
      expect((await api.call('GET', `/users/${created.body.id}`, { token: readToken })).status).toBe(200);
      expect((await api.call('GET', '/users/no-such-user', { token: readToken })).status).toBe(404);
      expect((await api.call('PATCH', '/users/no-such-user', { token, body: { disabled: true } })).status).toBe(404);
    });

    it('resource servers: create with scopes (secret once), read by URL-encoded id, update, remove', async () => {
      const id = 'https://notes.api.test/v1';
      const created = await api.call('POST', '/resources', {
        token,
        body: { id, name: 'Notes', scopes: [{ scope: 'notes:read', description: 'Read your notes' }, { scope: 'notes:write' }], token_format: 'jwt', default_scope: 'notes:read' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id, token_format: 'jwt', default_scope: 'notes:read', dynamic_clients: false, client_secret: expect.any(String) });
      // The introspection credentials work at once.
      expect(await introspect(h.issuer, { id: created.body.client_id, secret: created.body.client_secret }, 'nothing')).toEqual({ active: false });
      expect((await api.call('POST', '/resources', { token, body: { id, scopes: [{ scope: 'notes:read' }] } })).status).toBe(409);
      expect((await api.call('POST', '/resources', { token, body: { id: `${h.issuer}/admin`, scopes: [{ scope: 'x' }] } })).status).toBe(409);
      const path = `/resources/${encodeURIComponent(id)}`;
      expect((await api.call('GET', path, { token: readToken })).body.scopes).toHaveLength(2);
      const listed = await api.call('GET', '/resources', { token: readToken });
      expect(listed.body.resources.map((r: { id: string }) => r.id)).toContain(id);
      const updated = await api.call('PATCH', path, { token, body: { dynamic_clients: true } });
      expect(updated.body).toMatchObject({ dynamic_clients: true, default_scope: 'notes:read' });
      expect((await api.call('PATCH', path, { token, body: { default_scope: 'notes:delete' } })).status).toBe(400);
      expect((await api.call('DELETE', path, { token })).status).toBe(204);
      expect((await api.call('GET', path, { token: readToken })).status).toBe(404);
      expect((await api.call('DELETE', path, { token })).status).toBe(404);
      expect((await api.call('PATCH', path, { token, body: { dynamic_clients: false } })).status).toBe(404);
    });

    it('clients: create (secret once, usable at once), page, verify, remove', async () => {
      const created = await api.call('POST', '/clients', {
        token,
        body: { client_name: 'Notes web', redirect_uris: [REDIRECT], scope: 'openid contacts:read', resources: [CONTACTS], policy_uri: 'https://notes.example/privacy' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ client_name: 'Notes web', client_secret: expect.any(String), resource_scopes: { [CONTACTS]: 'contacts:read' } });
      const app = await confidentialClient(h, created.body.client_id, created.body.client_secret);
      const { tokens } = await codeFlow(app, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
      expect(tokens.access_token).toBeTruthy();

      const got = await api.call('GET', `/clients/${created.body.client_id}`, { token: readToken });
      expect(got.body).toMatchObject({ client_id: created.body.client_id, source: 'admin_api', verified: true, confidential: true, admin: false });
      expect(JSON.stringify(got.body)).not.toContain(created.body.client_secret);
      expect((await api.call('PATCH', `/clients/${created.body.client_id}`, { token, body: { verified: false } })).body.verified).toBe(false);

      const ids: string[] = [];
      let after: string | undefined;
      do {
        const page = await api.call('GET', '/clients', { token: readToken, query: { limit: '2', ...(after ? { after } : {}) } });
        ids.push(...page.body.clients.map((c: { client_id: string }) => c.client_id));
        after = page.body.next_cursor ?? undefined;
      } while (after);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(expect.arrayContaining([created.body.client_id, f.reader.clientId, admin.clientId]));

      expect((await api.call('DELETE', `/clients/${created.body.client_id}`, { token })).status).toBe(204);
      expect(await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, tokens.access_token)).toEqual({ active: false });
      expect((await api.call('GET', `/clients/${created.body.client_id}`, { token: readToken })).status).toBe(404);
      expect((await api.call('PATCH', '/clients/nobody', { token, body: { verified: true } })).status).toBe(404);
      expect((await api.call('DELETE', '/clients/nobody', { token })).status).toBe(404);
      expect((await api.call('POST', '/clients', { token, body: { client_name: 'Dup', redirect_uris: [REDIRECT] } })).status).toBe(201);
    });

    it('clients: dpop_bound_access_tokens and require_pushed_authorization_requests are kept and enforced', async () => {
      const created = await api.call('POST', '/clients', {
        token,
        body: { client_name: 'Bound and pushing', redirect_uris: [REDIRECT], scope: 'contacts:read', resources: [CONTACTS], dpop_bound_access_tokens: true, require_pushed_authorization_requests: true },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ dpop_bound_access_tokens: true, require_pushed_authorization_requests: true });
      const got = await api.call('GET', `/clients/${created.body.client_id}`, { token: readToken });
      expect(got.body).toMatchObject({ dpop_bound_access_tokens: true, require_pushed_authorization_requests: true });
      const app = { clientId: created.body.client_id as string, clientSecret: created.body.client_secret as string };
      // Without pushing: refused at the authorization endpoint. Pushed but without a DPoP key: refused at the token endpoint.
      await expect(dpopCodeFlow(h.issuer, app, f.user, { scope: 'contacts:read', key: await dpopKey() })).rejects.toMatchObject({ error: 'invalid_request', error_description: 'Pushed Authorization Request must be used' });
      await expect(dpopCodeFlow(h.issuer, app, f.user, { scope: 'contacts:read', par: true })).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await dpopCodeFlow(h.issuer, app, f.user, { scope: 'contacts:read', par: true, key: await dpopKey() })).token_type).toBe('dpop');
      expect((await api.call('POST', '/clients', { token, body: { client_name: 'Not a flag', redirect_uris: [REDIRECT], dpop_bound_access_tokens: 'yes' } })).status).toBe(400);
    });

    it('grants: list what a user granted, revoke one, and its tokens die', async () => {
      const reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
      const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid offline_access contacts:read' });
      const listed = await api.call('GET', '/grants', { token: readToken, query: { user: f.user.email } });
      const grant = listed.body.grants.find((g: { client_id: string }) => g.client_id === f.reader.clientId);
      expect(grant).toMatchObject({ resources: { [CONTACTS]: ['contacts:read'] } });
      expect((await api.call('GET', '/grants', { token: readToken, query: { user_id: f.user.id } })).body.grants).toHaveLength(listed.body.grants.length);
      expect((await api.call('GET', '/grants', { token: readToken, query: { user: 'nobody@example.com' } })).status).toBe(404);
      expect((await api.call('DELETE', `/grants/${encodeURIComponent(grant.grant_id)}`, { token })).status).toBe(204);
      expect(await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, tokens.access_token)).toEqual({ active: false });
      await expect(client.refreshTokenGrant(reader, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await api.call('DELETE', `/grants/${encodeURIComponent(grant.grant_id)}`, { token })).status).toBe(404);
    });

    it('initial access tokens register clients; keys list (ids, never material) and rotate', async () => {
      const iat = await api.call('POST', '/initial-access-tokens', { token, body: { ttl: 600 } });
      expect(iat.status).toBe(201);
      const registration = await fetch(`${h.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${iat.body.initial_access_token}` },
        body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'Registered with a token' }),
      });
      expect(registration.status).toBe(201);

      const before = await api.call('GET', '/keys', { token: readToken });
      const activeSigning = before.body.keys.find((k: { kind: string; status: string }) => k.kind === 'signing' && k.status === 'active');
      expect(JSON.stringify(before.body)).not.toMatch(/"(d|k|p|q)":/);
      const rotated = await api.call('POST', '/keys/rotate', { token, body: { cookies: false } });
      expect(rotated.status).toBe(200);
      const nowActive = rotated.body.keys.find((k: { kind: string; status: string }) => k.kind === 'signing' && k.status === 'active');
      expect(nowActive.id).not.toBe(activeSigning.id);
      expect(rotated.body.keys.find((k: { id: string }) => k.id === activeSigning.id)?.status).toBe('verify-only');
      expect((await api.call('POST', '/keys/rotate', { token, body: { signing: false, cookies: false } })).status).toBe(400);
      expect((await api.call('POST', '/keys/rotate', { token, body: { data: true } })).status).toBe(400);
    });

    it('audit: every change above is there with the admin client, filtered and paged newest first', async () => {
      const mine = await api.call('GET', '/audit', { token: readToken, query: { event: 'client.created', limit: '500' } });
      expect(mine.body.events.length).toBeGreaterThanOrEqual(2);
      for (const e of mine.body.events) expect(e.event).toBe('client.created');
      expect(mine.body.events.some((e: { details: Record<string, unknown> }) => e.details.via === 'admin_api' && e.details.admin_client === admin.clientId)).toBe(true);
      // The --admin client itself was made through the CLI's path, and says so.
      expect(mine.body.events.some((e: { client_id: string; details: Record<string, unknown> }) => e.client_id === admin.clientId && e.details.via === 'cli' && e.details.admin === true)).toBe(true);
      const revoked = await api.call('GET', '/audit', { token: readToken, query: { user: f.user.email, event: 'consent.revoked' } });
      expect(revoked.body.events[0]).toMatchObject({ actor: 'operator', details: { via: 'admin_api' } });

      const seen: number[] = [];
      let before: string | undefined;
      do {
        const page = await api.call('GET', '/audit', { token: readToken, query: { limit: '7', ...(before ? { before } : {}) } });
        seen.push(...page.body.events.map((e: { id: number }) => e.id));
        before = page.body.next_cursor === null ? undefined : String(page.body.next_cursor);
      } while (before);
      expect(seen).toEqual([...seen].sort((a, b) => b - a));
      expect(new Set(seen).size).toBe(seen.length);
      expect((await api.call('GET', '/audit', { token: readToken, query: { user: 'nobody@example.com' } })).body.events).toEqual([]);
    });
  });

  describe('bad input', () => {
    it('answers 400 with the fields at fault, and writes nothing', async () => {
      const before = (await api.call('GET', '/clients', { token: readToken, query: { limit: '500' } })).body.clients.length;
      const refused = await api.call('POST', '/clients', { token, body: { client_name: '', redirect_uris: ['not a uri'], grant_types: ['password'], colour: 'red' } });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('invalid_request');
      expect(Object.keys(refused.body.fields)).toEqual(expect.arrayContaining(['client_name', 'redirect_uris.0', 'grant_types.0']));
      // What the provider refuses is refused the same way, before anything is stored.
      const badRedirect = await api.call('POST', '/clients', { token, body: { client_name: 'Plain http', redirect_uris: ['http://example.com/cb'] } });
      expect(badRedirect.status).toBe(400);
      expect((await api.call('GET', '/clients', { token: readToken, query: { limit: '500' } })).body.clients.length).toBe(before);

      const user = await api.call('POST', '/users', { token, body: { email: 'short@example.com', password: 'short' } });
      expect(user.status).toBe(400);
      expect(user.body.fields).toHaveProperty('password');
      expect((await api.call('POST', '/users', { token, body: { email: 'not-an-email', password: 'long enough password' } })).body.fields).toHaveProperty('email');
      expect((await api.call('GET', '/users', { token: readToken, query: { limit: '100000' } })).body.fields).toHaveProperty('limit');
      expect((await api.call('GET', '/users', { token: readToken, query: { limit: ['1', '2'] } })).body.fields).toHaveProperty('limit');
      expect((await api.call('GET', '/keys', { token: readToken, query: { verbose: '1' } })).body.fields).toHaveProperty('verbose');
      expect((await api.call('GET', '/grants', { token: readToken })).status).toBe(400);
      expect((await api.call('POST', '/resources', { token, body: { id: 'https://x.test#frag', scopes: [{ scope: 'openid' }] } })).status).toBe(400);
    });

    it('hostile bytes, broken JSON, wrong types and oversized bodies get 4xx JSON, never a 500', async () => {
      const nul = 'bad\u0000name';
      expect((await api.call('POST', '/users', { token, body: { email: `a${nul}@example.com`, password: 'long enough password' } })).status).toBe(400);
      expect((await api.call('POST', '/clients', { token, body: { client_name: nul, redirect_uris: [REDIRECT] } })).status).toBe(400);
      expect((await api.call('POST', '/resources', { token, body: { id: `https://nul.test/${nul}`, scopes: [{ scope: 'a' }] } })).status).toBe(400);
      expect((await api.call('POST', '/resources', { token, body: { id: 'https://nul2.test', scopes: [{ scope: `a${nul}` }] } })).status).toBe(400);
      expect((await api.call('GET', `/users/${encodeURIComponent(nul)}`, { token: readToken })).status).toBe(404);
      expect((await api.call('GET', `/clients/${encodeURIComponent(nul)}`, { token: readToken })).status).toBe(404);
      expect((await api.call('GET', '/audit', { token: readToken, query: { client: nul } })).status).toBe(400);
      expect((await api.call('GET', '/grants', { token: readToken, query: { user_id: 'x\u0000' } })).status).toBe(400);
      expect((await api.call('GET', '/users', { token: readToken, query: { after: 'x\u0000' } })).status).toBe(400);
      expect((await api.call('GET', '/clients', { token: readToken, query: { after: 'x\u0000' } })).body).toMatchObject({ clients: [] });
      expect((await api.call('DELETE', `/grants/${encodeURIComponent(nul)}`, { token })).status).toBe(404);

      const broken = await api.call('POST', '/users', { token, rawBody: '{"email":' });
      expect(broken.status).toBe(400);
      expect((await api.call('POST', '/users', { token, rawBody: '[1,2]' })).status).toBe(400);
      expect((await api.call('POST', '/users', { token, rawBody: 'null' })).status).toBe(400);
      expect((await api.call('POST', '/users', { token, rawBody: 'email=a', contentType: 'application/x-www-form-urlencoded' })).status).toBe(415);
      expect((await api.call('POST', '/users', { token, body: { email: 'x@example.com', password: 'p'.repeat(70_000) } })).status).toBe(413);
      expect((await api.call('POST', '/users', { token, body: { email: 42, password: ['a'] } })).status).toBe(400);
      expect((await api.call('PUT', '/users', { token })).status).toBe(405);
      expect((await api.call('GET', '/nothing-here', { token })).status).toBe(404);
      expect((await api.call('GET', `/resources/${'%'}`, { token: readToken })).status).toBeLessThan(500);
    });
  });

  it('every route refuses the same way: 401 without a token, 403 without its scope, 400 for unknown parameters, 413 and 415 for bodies', async () => {
    const document = (await (await fetch(`${h.issuer}/admin/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { security: Array<Record<string, string[]>>; requestBody?: unknown }>> };
    expect(document.openapi).toBe('3.1.0');
    const config = await confidentialClient(h, admin.clientId, admin.secret);
    // A token for the admin API with no scope at all (client credentials naming only the resource).
    const noScope = (await client.clientCredentialsGrant(config, { resource: `${h.issuer}/admin` })).access_token;
    for (const [template, methods] of Object.entries(document.paths)) {
      const path = template.replace('/admin/v1', '').replace(/\{\w+\}/g, 'some-id');
      for (const [method, operation] of Object.entries(methods)) {
        const needed = operation.security[0]?.adminToken?.[0];
        const body = operation.requestBody ? {} : undefined;
        expect((await api.call(method.toUpperCase(), path, { body })).status, `${method} ${template} without a token`).toBe(401);
        const lacking = needed === 'latchkey:admin' ? readToken : noScope;
        expect((await api.call(method.toUpperCase(), path, { token: lacking, body })).status, `${method} ${template} without ${needed}`).toBe(403);
        expect((await api.call(method.toUpperCase(), path, { token, body, query: { bogus: '1' } })).status, `${method} ${template} with an unknown parameter`).toBe(400);
        if (operation.requestBody) {
          expect((await api.call(method.toUpperCase(), path, { token, rawBody: JSON.stringify({ pad: 'x'.repeat(70_000) }) })).status).toBe(413);
          expect((await api.call(method.toUpperCase(), path, { token, rawBody: 'a=b', contentType: 'application/x-www-form-urlencoded' })).status).toBe(415);
        }
      }
    }
  });

  it('publishes an OpenAPI 3.1 document, and the run saw every answer it documents', () => {
    const missing = api.documented().filter((answer) => !api.seen.has(answer));
    expect(missing).toEqual([]);
  });
});
