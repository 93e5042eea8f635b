// T19 client authentication failures (RFC 6749 §2.3, §5.2; ASVS 10.4.10).
//
// At every endpoint that authenticates clients — token, introspection, revocation and pushed
// authorization requests (PAR, enabled by oidc-provider's default and advertised in discovery):
// - a wrong secret with HTTP Basic is `401 invalid_client` with `WWW-Authenticate: Basic realm=…`
//   (RFC 6749 §5.2: the client used the Authorization header);
// - two methods at once (Basic and `client_secret` in the body) is `400 invalid_request`;
// - a public client presenting a secret, and a confidential client presenting none (only its
//   client_id), are `401 invalid_client`. (client_secret_basic and client_secret_post are both
//   accepted from confidential clients, README "Operator CLI".)
// Control: the right credentials pass authentication at each endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { basic, pkce, send, type RawResponse } from './support.ts';

type Endpoint = 'token' | 'introspection' | 'revocation' | 'par';

describe.each(STORES)('T19 client authentication failures (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let urls: Record<Endpoint, string>;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    const metadata = (await send(h.url('/.well-known/openid-configuration'))).json<Record<string, string>>();
    urls = {
      token: metadata.token_endpoint as string,
      introspection: metadata.introspection_endpoint as string,
      revocation: metadata.revocation_endpoint as string,
      par: metadata.pushed_authorization_request_endpoint as string,
    };
    for (const [name, url] of Object.entries(urls)) expect(url, name).toMatch(/^http/);
  });
  afterAll(async () => h?.close());

  /** The endpoint's own parameters, valid apart from client authentication. */
  function fields(endpoint: Endpoint, clientId: string): Record<string, string> {
    switch (endpoint) {
      case 'token':
        return { grant_type: 'refresh_token', refresh_token: 'not-a-real-token' };
      case 'introspection':
      case 'revocation':
        return { token: 'not-a-real-token' };
      case 'par':
        return {
          client_id: clientId,
          response_type: 'code',
          redirect_uri: REDIRECT,
          scope: 'openid contacts:read',
          state: 's',
          code_challenge: pkce().challenge,
          code_challenge_method: 'S256',
        };
    }
  }

  function post(endpoint: Endpoint, body: Record<string, string>, authorization?: string): Promise<RawResponse> {
    return send(urls[endpoint], {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
      body: new URLSearchParams(body).toString(),
    });
  }

  const ENDPOINTS: Endpoint[] = ['token', 'introspection', 'revocation', 'par'];

  it.each(ENDPOINTS)('%s: the right credentials pass authentication (control)', async (endpoint) => {
    const response = await post(endpoint, fields(endpoint, f.reader.clientId), basic(f.reader.clientId, f.reader.clientSecret));
    expect(response.status, response.body).not.toBe(401);
    expect(response.status).toBeLessThan(500);
    if (response.status >= 400) expect(response.json().error).not.toBe('invalid_client');
    const pub = await post(endpoint, { ...fields(endpoint, f.spa.clientId), client_id: f.spa.clientId });
    expect(pub.status, pub.body).not.toBe(401);
  });

  it.each(ENDPOINTS)('%s: a wrong secret with Basic is 401 invalid_client with a Basic challenge', async (endpoint) => {
    const response = await post(endpoint, fields(endpoint, f.reader.clientId), basic(f.reader.clientId, `${f.reader.clientSecret}x`));
    expect(response.status).toBe(401);
    expect(response.json().error).toBe('invalid_client');
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"/);
    expect(response.body).not.toContain(f.reader.clientSecret);
  });

  it.each(ENDPOINTS)('%s: Basic plus client_secret in the body is 400 invalid_request', async (endpoint) => {
    const response = await post(
      endpoint,
      { ...fields(endpoint, f.reader.clientId), client_id: f.reader.clientId, client_secret: f.reader.clientSecret },
      basic(f.reader.clientId, f.reader.clientSecret),
    );
    expect(response.status).toBe(400);
    expect(response.json().error).toBe('invalid_request');
  });

  it.each(ENDPOINTS)('%s: a public client presenting a secret is 401 invalid_client', async (endpoint) => {
    const viaBasic = await post(endpoint, fields(endpoint, f.spa.clientId), basic(f.spa.clientId, 'made-up-secret'));
    expect(viaBasic.status).toBe(401);
    expect(viaBasic.json().error).toBe('invalid_client');
    const viaBody = await post(endpoint, { ...fields(endpoint, f.spa.clientId), client_id: f.spa.clientId, client_secret: 'made-up-secret' });
    expect(viaBody.status).toBe(401);
    expect(viaBody.json().error).toBe('invalid_client');
  });

  it.each(ENDPOINTS)('%s: a confidential client presenting no secret is 401 invalid_client', async (endpoint) => {
    const none = await post(endpoint, { ...fields(endpoint, f.reader.clientId), client_id: f.reader.clientId });
    expect(none.status).toBe(401);
    expect(none.json().error).toBe('invalid_client');
  });
});
