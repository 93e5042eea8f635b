import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { client, codeFlow, confidentialClient } from '../helpers/oauth.ts';

describe('discovery metadata and userinfo', () => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer();
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('advertises only what the server allows', async () => {
    const metadata = (await (await fetch(h.url('/.well-known/openid-configuration'))).json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(h.issuer);
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
    expect(metadata.grant_types_supported).not.toContain('password');
    expect(metadata.grant_types_supported).not.toContain('implicit');
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.token_endpoint_auth_methods_supported).not.toContain('client_secret_jwt');
    expect(metadata.introspection_endpoint).toBe(h.url('/token/introspection'));
    expect(metadata.revocation_endpoint).toBe(h.url('/token/revocation'));
    expect(metadata.registration_endpoint).toBe(h.url('/reg'));

    const oauth = (await (await fetch(h.url('/.well-known/oauth-authorization-server'))).json()) as Record<string, unknown>;
    expect(oauth.issuer).toBe(h.issuer);

    const jwks = (await (await fetch(h.url('/jwks'))).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) expect(key.d).toBeUndefined();
  });

  it('userinfo releases only the claims of the granted scopes', async () => {
    const reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    // No resource requested: the access token is for userinfo.
    const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid email' });
    const info = await client.fetchUserInfo(reader, tokens.access_token, f.user.id);
    expect(info).toMatchObject({ sub: f.user.id, email: f.user.email, email_verified: true });
    expect(info.name).toBeUndefined();
  });

  it('an audience-bound contacts token is not accepted at userinfo', async () => {
    const reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const response = await fetch(h.url('/me'), { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect([401, 403]).toContain(response.status);
    expect(response.headers.get('www-authenticate')).toMatch(/error="(invalid_token|insufficient_scope)"/);
  });
});
