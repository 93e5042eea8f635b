import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('introspection (RFC 7662) and revocation (RFC 7009) (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let reader: client.Configuration;
  let contactsRs: client.Configuration;
  let calendarRs: client.Configuration;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    contactsRs = await confidentialClient(h, f.contacts.clientId, f.contacts.clientSecret);
    calendarRs = await confidentialClient(h, f.calendar.clientId, f.calendar.clientSecret);
  });
  afterAll(async () => h?.close());

  it('describes an access token only to the resource server it is for', async () => {
    const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const mine = await client.tokenIntrospection(contactsRs, tokens.access_token);
    expect(mine).toMatchObject({ active: true, aud: f.contacts.id, scope: 'contacts:read', client_id: f.reader.clientId, sub: f.user.id });
    expect(typeof mine.exp).toBe('number');
    // Another resource server, and the token's own client, learn nothing (no token scanning).
    expect(await client.tokenIntrospection(calendarRs, tokens.access_token)).toEqual({ active: false });
    expect(await client.tokenIntrospection(reader, tokens.access_token)).toEqual({ active: false });
  });

  it('answers inactive for unknown tokens, and refuses unauthenticated callers', async () => {
    expect(await client.tokenIntrospection(contactsRs, 'not-a-token')).toEqual({ active: false });
    const response = await fetch(h.url('/token/introspection'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=abc',
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get('cache-control')).toContain('no-store');
  });

  it('describes a refresh token only to its own client', async () => {
    const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    expect((await client.tokenIntrospection(reader, tokens.refresh_token as string)).active).toBe(true);
    expect(await client.tokenIntrospection(contactsRs, tokens.refresh_token as string)).toEqual({ active: false });
  });

  it('revoking an access token makes it inactive at once', async () => {
    const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    await client.tokenRevocation(reader, tokens.access_token);
    expect(await client.tokenIntrospection(contactsRs, tokens.access_token)).toEqual({ active: false });
  });

  it('revoking a refresh token revokes the grant: its access tokens die too', async () => {
    const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    await client.tokenRevocation(reader, tokens.refresh_token as string);
    await expect(client.refreshTokenGrant(reader, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await client.tokenIntrospection(contactsRs, tokens.access_token)).toEqual({ active: false });
  });

  it('a client cannot revoke another client\'s token', async () => {
    const { tokens } = await codeFlow(reader, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    await expect(client.tokenRevocation(editor, tokens.access_token)).rejects.toBeTruthy();
    expect((await client.tokenIntrospection(contactsRs, tokens.access_token)).active).toBe(true);
  });

  it('JWT access tokens (RFC 9068) verify offline against the JWKS with exactly one audience', async () => {
    const jwtServer = await startServer({ store });
    try {
      const g = await createFixtures(jwtServer, { contactsFormat: 'jwt' });
      const app = await confidentialClient(jwtServer, g.reader.clientId, g.reader.clientSecret);
      const { tokens } = await codeFlow(app, g.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
      const { createRemoteJWKSet, jwtVerify } = await import('jose');
      const jwks = createRemoteJWKSet(new URL(jwtServer.url('/jwks')));
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: jwtServer.issuer, audience: g.contacts.id, typ: 'at+jwt' });
      expect(payload.aud).toBe(g.contacts.id);
      expect(payload.scope).toBe('contacts:read');
      expect(payload.sub).toBe(g.user.id);
      expect(protectedHeader.alg).toBe('RS256');
    } finally {
      await jwtServer.close();
    }
  });
});
