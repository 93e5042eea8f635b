import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CONTACTS, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { client, codeFlow, confidentialClient, publicClient } from '../helpers/oauth.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('authorization code + PKCE through login and consent (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('issues an audience-bound contacts:read token, an ID token and a refresh token', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { tokens, callback } = await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid email contacts:read' });

    expect(callback.searchParams.get('iss')).toBe(h.issuer);
    // RFC 6749 §5.1: `scope` describes the access token, which is for the contacts API only.
    expect(tokens.scope).toBe('contacts:read');
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.claims()?.sub).toBe(f.user.id);
    expect(tokens.claims()?.email).toBe(f.user.email);

    const rs = await confidentialClient(h, f.contacts.clientId, f.contacts.clientSecret);
    const info = await client.tokenIntrospection(rs, tokens.access_token);
    expect(info.active).toBe(true);
    expect(info.aud).toBe(CONTACTS);
    expect(info.scope).toBe('contacts:read');
    expect(info.sub).toBe(f.user.id);
    expect(info.client_id).toBe(f.reader.clientId);
  });

  it('works for a public client with PKCE only', async () => {
    const config = await publicClient(h, f.spa.clientId);
    const { tokens } = await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
  });
});
