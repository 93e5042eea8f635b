// Pushed authorization requests (RFC 9126) with openid-client (a real client library): any client
// may push its request and complete the flow (login and consent) with the request_uri it got; a
// client registered with `require_pushed_authorization_requests` cannot send a plain
// authorization request; REQUIRE_PAR=true holds every client to it, and discovery says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authorizationRequest, client, completeInteraction, confidentialClient, publicClient } from '../helpers/oauth.ts';
import { UserAgent } from '../helpers/user-agent.ts';
import { basic } from '../helpers/token-requests.ts';
import { codeFlow, dpopKey, postForm } from '../helpers/dpop.ts';

const SCOPE = 'openid contacts:read';

/** Pushes the request with openid-client, signs in and consents, redeems the code. */
async function parFlow(config: client.Configuration, user: { email: string; password: string }) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: REDIRECT,
    scope: SCOPE,
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  // What the browser is sent to carries nothing but the client and the reference.
  expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  const final = await completeInteraction(new UserAgent(), url.toString(), REDIRECT, user);
  expect(final.location, final.body.slice(0, 300)).toMatch(new RegExp(`^${REDIRECT}\\?`));
  return client.authorizationCodeGrant(config, new URL(final.location as string), { pkceCodeVerifier: verifier, expectedState: state });
}

/** A plain (unpushed) authorization request: where it ends, as a browser would see it. */
async function plainRequest(config: client.Configuration) {
  const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: SCOPE });
  const answer = await new UserAgent().request(request.url.toString());
  const location = answer.location ? new URL(answer.location) : undefined;
  return { status: answer.status, location, error: location?.searchParams.get('error'), description: location?.searchParams.get('error_description') };
}

describe.each(STORES)('pushed authorization requests (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let mustPush: { clientId: string; clientSecret: string; metadata: Record<string, unknown> };

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    const made = await h.management.clients.add({ name: 'Pushes its requests', redirectUris: [REDIRECT], scope: SCOPE, resources: [CONTACTS], requirePar: true });
    mustPush = { clientId: made.clientId, clientSecret: made.clientSecret as string, metadata: made.metadata };
  });
  afterAll(async () => h?.close());

  it('discovery names the endpoint and requires nothing server-wide', async () => {
    const metadata = (await (await fetch(h.url('/.well-known/openid-configuration'))).json()) as Record<string, unknown>;
    expect(metadata.pushed_authorization_request_endpoint).toBe(h.url('/request'));
    expect(metadata.require_pushed_authorization_requests).toBeUndefined();
  });

  it('any client may push its request: a confidential one and a public one complete the flow', async () => {
    const reader = await parFlow(await confidentialClient(h, f.reader.clientId, f.reader.clientSecret), f.user);
    expect(reader.access_token).toBeTruthy();
    expect(reader.scope).toBe('contacts:read');
    expect(reader.id_token).toBeTruthy();
    const spa = await parFlow(await publicClient(h, f.spa.clientId), f.user);
    expect(spa.access_token).toBeTruthy();
  });

  it('a client registered to push gets an error for a plain request, and completes the flow by pushing', async () => {
    const config = await confidentialClient(h, mustPush.clientId, mustPush.clientSecret);
    const plain = await plainRequest(config);
    expect(plain.status).toBe(303);
    expect(plain.location?.origin + (plain.location?.pathname ?? '')).toBe(REDIRECT);
    expect(plain.error).toBe('invalid_request');
    expect(plain.description).toBe('Pushed Authorization Request must be used');
    expect((await parFlow(config, f.user)).access_token).toBeTruthy();
    expect(mustPush.metadata.require_pushed_authorization_requests).toBe(true);
  });

  it('a pushed request is checked when it is pushed, needs the client to authenticate, and is good once', async () => {
    const push = (fields: Record<string, string>, secret = f.reader.clientSecret) =>
      postForm(h.url('/request'), { client_id: f.reader.clientId, response_type: 'code', scope: SCOPE, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', redirect_uri: REDIRECT, ...fields }, { authorization: basic(f.reader.clientId, secret) });
    // RFC 9126 §2.1: at the PAR endpoint a bad redirect_uri is invalid_request (not a redirect).
    const evil = await push({ redirect_uri: 'https://evil.example/cb' });
    expect([evil.status, evil.body.error, evil.body.error_description]).toEqual([400, 'invalid_request', "redirect_uri did not match any of the client's registered redirect_uris"]);
    expect((await push({}, 'wrong secret')).status).toBe(401);
    expect((await push({ scope: 'openid calendar:read' })).body.error).toBe('invalid_scope');

    const pushed = await push({});
    expect(pushed.status).toBe(201);
    const url = `${h.url('/auth')}?${new URLSearchParams({ client_id: f.reader.clientId, request_uri: pushed.body.request_uri as string })}`;
    // Reloading the page before the flow ends is allowed (RFC 9126 §4); once a code was issued
    // for it, the request_uri is spent.
    const final = await completeInteraction(new UserAgent(), url, REDIRECT, f.user);
    expect(new URL(final.location as string).searchParams.get('code')).toBeTruthy();
    const again = await new UserAgent().request(url);
    expect(again.status, again.location).toBe(400);
    expect(again.body).toContain('invalid_request_uri');
  });
  it('a request pushed with a DPoP proof binds the code to that key (dpop_jkt): another key cannot redeem it', async () => {
    const key = await dpopKey();
    await expect(codeFlow(h.issuer, f.spa, f.user, { scope: 'contacts:read', key, redeemKey: await dpopKey(), par: true })).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(codeFlow(h.issuer, f.spa, f.user, { scope: 'contacts:read', key, redeemKey: null, par: true })).rejects.toMatchObject({ error: 'invalid_grant' });
    const tokens = await codeFlow(h.issuer, f.spa, f.user, { scope: 'contacts:read', key, par: true });
    expect(tokens.token_type).toBe('dpop');
  });
});

describe.each(STORES)('REQUIRE_PAR=true (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store, env: { REQUIRE_PAR: 'true' } });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('discovery says every client must push', async () => {
    const metadata = (await (await fetch(h.url('/.well-known/openid-configuration'))).json()) as Record<string, unknown>;
    expect(metadata.require_pushed_authorization_requests).toBe(true);
  });

  it('every client, confidential or public, is refused a plain request and completes the flow by pushing', async () => {
    for (const config of [await confidentialClient(h, f.reader.clientId, f.reader.clientSecret), await publicClient(h, f.spa.clientId)]) {
      const plain = await plainRequest(config);
      expect(plain.error).toBe('invalid_request');
      expect(plain.description).toBe('Pushed Authorization Request must be used');
      expect((await parFlow(config, f.user)).access_token).toBeTruthy();
    }
  });
});
