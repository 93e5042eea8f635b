// T1 redirect URIs match exactly (RFC 9700 §2.1, §4.1.3; ASVS 10.4.1; Keycloak CVE-2026-7504,
// CVE-2026-3872, keycloak#48430; fosite CVE-2020-15233).
//
// A web client registers exactly one redirect URI, https://app.example/cb. Every near miss is
// answered with our error page (400, no Location, error code invalid_redirect_uri) whether or not
// the user is signed in, and nothing is stored for it. At the token endpoint the same near misses,
// presented with a valid code issued for the registered URI, are `400 invalid_grant`; a missing
// redirect_uri is refused as well (oidc-provider pitfall 9: a client with a single registered URI
// must not be allowed to omit it). None of these refusals burns the code: the exact URI still
// redeems it afterwards, which also proves each refusal was about the URI.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CONTACTS, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authParams, countArtefacts, obtainCode, redeemCode, send, type RawResponse } from './support.ts';
import type { UserAgent } from '../helpers/user-agent.ts';

const REGISTERED = 'https://app.example/cb';

const VARIANTS = [
  'https://app.example/cb/',
  'https://app.example/cb/x',
  'https://app.example/CB',
  'https://APP.example/cb',
  'https://app.example/cb?x=1',
  'https://app.example/cb?',
  'https://app.example/cb#f',
  'https://app.example/cb%2F..',
  'https://app.example/cb/..;/x',
  'https://app.example/./cb',
  'https://app.example:444/cb',
  'https://app.example:443/cb',
  'http://app.example/cb',
  'https://app.example.evil.com/cb',
  'https://app.example@evil.com/cb',
  'https://a@b@evil.com/cb',
  'https://evil.com/cb?https://app.example/cb',
];

const STORED_BY_AUTHORIZATION = ['Interaction', 'AuthorizationCode', 'Session', 'Grant', 'AccessToken', 'RefreshToken'];

describe.each(STORES)('T1 redirect URI exact match (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let app: { id: string; secret: string };

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    const created = await h.management.clients.add({
      name: 'App',
      redirectUris: [REGISTERED],
      scope: 'openid contacts:read',
      resources: [CONTACTS],
    });
    app = { id: created.clientId, secret: created.clientSecret as string };
  });
  afterAll(async () => h?.close());

  function expectErrorPage(response: RawResponse, label: string, error = 'invalid_redirect_uri') {
    expect(response.status, label).toBe(400);
    expect(response.location, label).toBeUndefined();
    expect(response.headers.get('content-type'), label).toMatch(/^text\/html/);
    expect(response.body, label).toContain(error);
    expect(response.body, label).not.toMatch(/http-equiv=["']?refresh/i);
    expect(response.body, label).not.toContain('evil.com');
  }

  async function authorize(redirectUri: string | undefined, agent?: UserAgent): Promise<RawResponse> {
    const { params } = authParams(app.id, REGISTERED, 'openid contacts:read', { redirect_uri: redirectUri });
    const url = h.url(`/auth?${params}`);
    if (!agent) return send(url);
    const page = await agent.request(url);
    return { status: page.status, headers: page.headers, location: page.location, body: page.body, json: () => JSON.parse(page.body) };
  }

  it('the registered URI itself is accepted (control)', async () => {
    const response = await authorize(REGISTERED);
    expect(response.status).toBe(303);
    expect(response.location).toMatch(new RegExp(`^${h.issuer}/interaction/`));
  });

  it('every near miss gets the error page, never a redirect, and stores nothing (signed out)', async () => {
    const before = await countArtefacts(h, STORED_BY_AUTHORIZATION);
    for (const variant of VARIANTS) expectErrorPage(await authorize(variant), variant);
    expectErrorPage(await authorize(undefined), 'redirect_uri omitted', 'invalid_request');
    expect(await countArtefacts(h, STORED_BY_AUTHORIZATION)).toBe(before);
  });

  it('the same near misses, for a signed-in user who already approved the app, and at the token endpoint', async () => {
    // Sign in and approve once: from now on a good request would go straight back with a code.
    const issued = await obtainCode(h, f.user, { clientId: app.id, redirectUri: REGISTERED, scope: 'openid contacts:read' });
    const again = await authorize(REGISTERED, issued.agent);
    expect(again.status).toBe(303);
    expect(again.location?.startsWith(`${REGISTERED}?code=`)).toBe(true);

    const before = await countArtefacts(h, STORED_BY_AUTHORIZATION);
    for (const variant of VARIANTS) expectErrorPage(await authorize(variant, issued.agent), `signed in: ${variant}`);
    expectErrorPage(await authorize(undefined, issued.agent), 'signed in: redirect_uri omitted', 'invalid_request');
    expect(await countArtefacts(h, STORED_BY_AUTHORIZATION)).toBe(before);

    // Token endpoint: the code was issued for the registered URI only.
    for (const variant of VARIANTS) {
      const answer = await redeemCode(h, app, { code: issued.code, code_verifier: issued.verifier, redirect_uri: variant });
      expect(answer.status, variant).toBe(400);
      expect(answer.json().error, variant).toBe('invalid_grant');
    }
    const omitted = await redeemCode(h, app, { code: issued.code, code_verifier: issued.verifier });
    expect(omitted.status).toBe(400);
    expect(omitted.json().error).toMatch(/^(invalid_request|invalid_grant)$/);

    const exact = await redeemCode(h, app, { code: issued.code, code_verifier: issued.verifier, redirect_uri: REGISTERED });
    expect(exact.status).toBe(200);
    expect(exact.json().access_token).toEqual(expect.any(String));
  });
});
