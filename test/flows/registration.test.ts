import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CONTACTS, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { client, codeFlow } from '../helpers/oauth.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('dynamic registration (RFC 7591) and management (RFC 7592) (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let iat: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    iat = await new h.app.provider.InitialAccessToken({}).save();
  });
  afterAll(async () => h?.close());

  const register = (body: unknown, token: string | null = iat) =>
    fetch(h.url('/reg'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  it('a resource server added by the CLI a moment ago can be named at once, at registration and on update', async () => {
    // Warm the server's resource catalogue, then add a resource server elsewhere (as the CLI does).
    expect((await register({ redirect_uris: [REDIRECT], resource_scopes: { [CONTACTS]: 'contacts:read' } })).status).toBe(201);
    await h.management.resources.add({ id: `https://fresh-${store}.api.test`, scopes: [{ scope: `fresh-${store}:read`, description: 'Read fresh things' }] });
    const created = await register({ redirect_uris: [REDIRECT], resource_scopes: { [`https://fresh-${store}.api.test`]: `fresh-${store}:read` } });
    expect(created.status, await created.clone().text()).toBe(201);
    const body = (await created.json()) as { client_id: string; registration_access_token: string; registration_client_uri: string };

    await h.management.resources.add({ id: `https://fresher-${store}.api.test`, scopes: [{ scope: `fresher-${store}:read`, description: 'Read fresher things' }] });
    const updated = await fetch(body.registration_client_uri, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${body.registration_access_token}` },
      body: JSON.stringify({ client_id: body.client_id, redirect_uris: [REDIRECT], resource_scopes: { [`https://fresher-${store}.api.test`]: `fresher-${store}:read` } }),
    });
    expect(updated.status, await updated.clone().text()).toBe(200);
  });

  it('registers a client with an initial access token; the client then completes a flow', async () => {
    const registered = await client.dynamicClientRegistration(
      new URL(h.issuer),
      {
        client_name: 'Self-registered Reader',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid',
        resource_scopes: { [CONTACTS]: 'contacts:read' },
      } as never,
      undefined,
      { initialAccessToken: iat, execute: [client.allowInsecureRequests] },
    );
    const metadata = registered.clientMetadata();
    expect(metadata.client_id).toMatch(/^dyn_/);
    expect(typeof metadata.client_secret).toBe('string');
    expect((metadata.client_secret as string).length).toBeGreaterThanOrEqual(43);

    const { tokens } = await codeFlow(registered, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    expect(tokens.scope).toBe('contacts:read');
    // Self-registered clients start unverified.
    expect((await h.app.clients.get(metadata.client_id))?.verified).toBe(false);
  });

  it('refuses registration without a valid initial access token', async () => {
    expect((await register({ redirect_uris: [REDIRECT] }, null)).status).toBe(401);
    const bad = await register({ redirect_uris: [REDIRECT] }, 'not-a-token');
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses unknown resources and scopes, and client_credentials for self-registered clients', async () => {
    const unknownResource = await register({ redirect_uris: [REDIRECT], resource_scopes: { 'https://nope.example': 'x' } });
    expect(unknownResource.status).toBe(400);
    expect(await unknownResource.json()).toMatchObject({ error: 'invalid_client_metadata' });
    const unknownScope = await register({ redirect_uris: [REDIRECT], resource_scopes: { [CONTACTS]: 'contacts:admin' } });
    expect(await unknownScope.json()).toMatchObject({ error: 'invalid_client_metadata' });
    const service = await register({ grant_types: ['client_credentials'], redirect_uris: [], response_types: [], resource_scopes: { [CONTACTS]: 'contacts:read' } });
    expect(service.status).toBe(400);
    expect(await service.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });

  it('reads, updates (rotating the registration access token) and deletes a registration', async () => {
    const created = (await (await register({ client_name: 'Managed', redirect_uris: [REDIRECT] })).json()) as Record<string, string>;
    const uri = created.registration_client_uri as string;
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });

    const read = await fetch(uri, { headers: auth(created.registration_access_token as string) });
    expect(read.status).toBe(200);
    const readBody = (await read.json()) as Record<string, string>;
    expect(readBody.client_id).toBe(created.client_id);
    expect(readBody.client_secret).toBe(created.client_secret);

    const updated = await fetch(uri, {
      method: 'PUT',
      headers: { ...auth(created.registration_access_token as string), 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: created.client_id, client_name: 'Managed, renamed', redirect_uris: [REDIRECT] }),
    });
    expect(updated.status).toBe(200);
    const updatedBody = (await updated.json()) as Record<string, string>;
    expect(updatedBody.client_name).toBe('Managed, renamed');
    expect(updatedBody.registration_access_token).not.toBe(created.registration_access_token);
    // The old registration access token is dead after rotation.
    expect((await fetch(uri, { headers: auth(created.registration_access_token as string) })).status).toBe(401);

    const deleted = await fetch(uri, { method: 'DELETE', headers: auth(updatedBody.registration_access_token as string) });
    expect(deleted.status).toBe(204);
    expect(await h.app.clients.get(created.client_id as string)).toBeUndefined();
  });

  it('does not let a registration access token manage another client, nor manage operator clients', async () => {
    const a = (await (await register({ redirect_uris: [REDIRECT] })).json()) as Record<string, string>;
    const b = (await (await register({ redirect_uris: [REDIRECT] })).json()) as Record<string, string>;
    const cross = await fetch(h.url(`/reg/${b.client_id}`), { headers: { authorization: `Bearer ${a.registration_access_token}` } });
    expect(cross.status).toBe(401);
    const operator = await fetch(h.url(`/reg/${f.reader.clientId}`), { headers: { authorization: `Bearer ${a.registration_access_token}` } });
    expect(operator.status).toBe(401);
  });
});
