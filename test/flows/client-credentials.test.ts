import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, type Fixtures } from '../helpers/fixtures.ts';
import { client, confidentialClient } from '../helpers/oauth.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('client credentials for service clients (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let service: client.Configuration;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    service = await confidentialClient(h, f.service.clientId, f.service.clientSecret);
  });
  afterAll(async () => h?.close());

  it('issues a token for the resource its scope belongs to, with no user subject', async () => {
    const tokens = await client.clientCredentialsGrant(service, { scope: 'contacts:read' });
    expect(tokens.scope).toBe('contacts:read');
    const rs = await confidentialClient(h, f.contacts.clientId, f.contacts.clientSecret);
    const info = await client.tokenIntrospection(rs, tokens.access_token);
    expect(info).toMatchObject({ active: true, aud: f.contacts.id, client_id: f.service.clientId, scope: 'contacts:read' });
    expect(info.sub).toBeUndefined();
  });

  it('refuses scopes outside the client allow-list and unknown scopes', async () => {
    await expect(client.clientCredentialsGrant(service, { scope: 'contacts:write' })).rejects.toMatchObject({ error: 'invalid_scope' });
    await expect(client.clientCredentialsGrant(service, { scope: 'nonexistent:scope' })).rejects.toMatchObject({ error: 'invalid_scope' });
    await expect(client.clientCredentialsGrant(service, { scope: 'contacts:read', resource: f.calendar.id })).rejects.toMatchObject({
      error: expect.stringMatching(/invalid_target|invalid_scope/),
    });
  });

  it('is refused to clients without the grant', async () => {
    const reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    // oidc-provider answers invalid_request here where RFC 6749 §5.2 names unauthorized_client.
    await expect(client.clientCredentialsGrant(reader, { scope: 'contacts:read' })).rejects.toMatchObject({
      error: expect.stringMatching(/^(invalid_request|unauthorized_client)$/),
      status: 400,
    });
  });

  it('answers a wrong secret with 401 invalid_client', async () => {
    const response = await fetch(h.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${f.service.clientId}:wrong`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=contacts:read',
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });
});
