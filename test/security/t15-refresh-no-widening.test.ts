// T15 a refresh cannot widen scope or change audience (RFC 6749 §6, RFC 9700 §4.14.2), and a
// refused refresh leaves the token usable (validation happens before the token is consumed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CALENDAR, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T15 refresh never widens (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let refresh: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    refresh = (await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens.refresh_token as string;
  });
  afterAll(async () => h?.close());

  const reader = () => ({ id: f.reader.clientId, secret: f.reader.clientSecret });

  it('refuses a wider scope with invalid_scope and a new audience with invalid_target, leaving the token usable', async () => {
    const wider = await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: refresh, scope: 'contacts:read contacts:write' });
    expect(wider).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    const otherAudience = await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: refresh, resource: CALENDAR });
    expect(otherAudience).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    const twoAudiences = await fetch(h.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${f.reader.clientId}:${f.reader.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: `grant_type=refresh_token&refresh_token=${refresh}&resource=${encodeURIComponent(f.contacts.id)}&resource=${encodeURIComponent(CALENDAR)}`,
    });
    expect(twoAudiences.status).toBe(400);

    // None of the refusals consumed the token.
    const ok = await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: refresh });
    expect(ok.status).toBe(200);
    refresh = ok.body.refresh_token as string;
  });

  it('a narrower scope gives a narrower access token, and the rotated refresh token keeps the original scope', async () => {
    const narrow = await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: refresh, scope: 'openid' });
    expect(narrow.status).toBe(200);
    // The access token keeps its audience but carries none of the API's scopes.
    const narrowInfo = await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, narrow.body.access_token as string);
    expect(String(narrowInfo.scope ?? '')).not.toContain('contacts:read');
    const back = await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: narrow.body.refresh_token as string });
    expect(back.status).toBe(200);
    const info = await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, back.body.access_token as string);
    expect(info).toMatchObject({ active: true, scope: 'contacts:read', aud: f.contacts.id });
  });
});
