// T2 an unknown or mismatched client never gets a redirect (RFC 6749 §4.1.2.1; RFC 9700
// §4.11.2; Keycloak CVE-2022-1970 report).
//
// When the server cannot trust the client or the redirect URI, it shows its own error page
// (400, HTML, no Location, no meta refresh) instead of sending the browser anywhere, and the
// page renders every echoed parameter inert (state, client_id, redirect_uri, scope carrying
// markup). Also covered: an error that would normally be redirected (response_type=bogus) is not
// redirected to an unregistered URI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CONTACTS, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authParams, send } from './support.ts';

const SCRIPT = '<script>alert(1)</script>';
const IMG = '"><img src=x onerror=alert(2)>';

describe.each(STORES)('T2 unknown or mismatched client never redirects (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let appId: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    appId = (
      await h.management.clients.add({ name: 'App', redirectUris: ['https://app.example/cb'], scope: 'openid contacts:read', resources: [CONTACTS] })
    ).clientId;
  });
  afterAll(async () => h?.close());

  const cases = (): Array<[string, Record<string, string | undefined>]> => [
    ['unknown client_id, with a URI registered for another client', { client_id: 'nope', redirect_uri: REDIRECT }],
    ['unknown client_id carrying markup', { client_id: IMG, redirect_uri: 'https://evil.example/cb' }],
    ['empty client_id', { client_id: '', redirect_uri: REDIRECT }],
    ['client_id omitted', { client_id: undefined, redirect_uri: REDIRECT }],
    // REDIRECT is registered for the fixtures' clients, not for this one.
    ['a real client with another client\'s redirect URI', { client_id: appId, redirect_uri: REDIRECT }],
    ['a real client with an attacker\'s redirect URI', { client_id: appId, redirect_uri: 'https://evil.example/cb' }],
    ['response_type=bogus with an unregistered URI', { client_id: appId, response_type: 'bogus', redirect_uri: 'https://evil.example/cb' }],
    ['response_type=bogus, unknown client', { client_id: 'nope', response_type: 'bogus', redirect_uri: 'https://evil.example/cb' }],
    ['markup in redirect_uri', { client_id: appId, redirect_uri: `javascript:alert(3)//${SCRIPT}` }],
    ['markup in scope and redirect_uri', { client_id: f.reader.clientId, scope: `openid ${IMG}`, redirect_uri: `https://evil.example/${IMG}` }],
  ];

  it('shows an inert error page with no Location for each case', async () => {
    for (const [label, overrides] of cases()) {
      const { params } = authParams(appId, 'https://app.example/cb', 'openid contacts:read', { state: SCRIPT, ...overrides });
      const response = await send(h.url(`/auth?${params}`));
      expect(response.status, label).toBe(400);
      expect(response.location, label).toBeUndefined();
      expect(response.headers.get('content-type'), label).toMatch(/^text\/html/);
      expect(response.body, label).not.toMatch(/http-equiv=["']?refresh/i);
      // Nothing echoed is live markup: no script element, no injected element or attribute.
      expect(response.body, label).not.toMatch(/<script/i);
      expect(response.body, label).not.toContain('<img');
      expect(response.body, label).not.toMatch(/href=["']?javascript:/i);
      expect(response.body, label).not.toContain('evil.example');
    }
  });

  it('the same request with a trustworthy client and URI does redirect (control)', async () => {
    const { params } = authParams(f.reader.clientId, REDIRECT, 'openid contacts:read', { response_type: 'bogus', state: SCRIPT });
    const response = await send(h.url(`/auth?${params}`));
    expect(response.status).toBe(303);
    expect(response.location?.startsWith(`${REDIRECT}?`)).toBe(true);
    const answer = new URL(response.location as string).searchParams;
    expect(answer.get('error')).toBe('unsupported_response_type');
    // Delivered to the registered URI exactly as sent: the client compares it.
    expect(answer.get('state')).toBe(SCRIPT);
  });
});
