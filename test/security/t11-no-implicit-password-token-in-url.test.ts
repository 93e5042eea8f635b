// T11 no implicit, no password grant, no token-in-URL response modes (RFC 9700 §2.1.2, §2.4,
// §4.17; ASVS 10.4.4, 10.4.12, 10.6.1; OAuth 2.1).
//
// - Every response type other than `code` (implicit and hybrid) is `unsupported_response_type`,
//   delivered to the registered URI (or shown on the error page), never with a token or code.
// - `POST /token` with the password grant — even with the user's right password — and with any
//   other grant that is not enabled is `400 unsupported_grant_type`.
// - Response modes: decision — `query` (default) and `form_post` only. The catalogue refuses
//   `fragment` and `web_message` "unless allowed per client"; Latchkey has no per-client response
//   mode setting, so a request with `response_mode=fragment` (or web_message, or JARM `jwt`) is
//   refused before any login page, and no code is ever delivered in a fragment.
// - Discovery lists only `code` and only the enabled grants.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authParams, postForm, responseParams, send, target, type RawResponse } from './support.ts';

describe.each(STORES)('T11 no implicit, no password, no token in URL (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  /** Refused with `error` either on our error page or by a redirect to the registered URI, never with credentials. */
  function expectRefused(response: RawResponse, label: string, errors: string[]) {
    if (response.status === 400) {
      expect(response.location, label).toBeUndefined();
      expect(errors.some((error) => response.body.includes(`<code>${error}</code>`)), `${label}: error page naming ${errors.join(' or ')}`).toBe(true);
      return;
    }
    expect(response.status, label).toBe(303);
    expect(target(response.location as string), label).toBe(REDIRECT);
    const answer = responseParams(response.location as string);
    expect(errors, `${label}: error=${answer.get('error')}`).toContain(answer.get('error'));
    for (const credential of ['code', 'access_token', 'id_token']) expect(answer.get(credential), `${label}: ${credential}`).toBeNull();
  }

  it('refuses implicit and hybrid response types', async () => {
    for (const responseType of ['token', 'id_token token', 'code token', 'id_token', 'code id_token', 'code id_token token']) {
      const { params } = authParams(f.reader.clientId, REDIRECT, 'openid contacts:read', { response_type: responseType, nonce: 'n' });
      // Clients may only use the query and form_post response modes; oidc-provider checks the
      // (fragment) default mode of these response types before the type itself, so the refusal
      // is invalid_request rather than unsupported_response_type. Either way nothing is issued.
      expectRefused(await send(h.url(`/auth?${params}`)), responseType, ['unsupported_response_type', 'invalid_request']);
    }
  });

  it('refuses the password grant, even with the right password, and every grant that is not enabled', async () => {
    const reader = { id: f.reader.clientId, secret: f.reader.clientSecret };
    const password = await postForm(
      h.url('/token'),
      { grant_type: 'password', username: f.user.email, password: f.user.password, scope: 'openid contacts:read' },
      { auth: reader },
    );
    expect(password.status).toBe(400);
    expect(password.json()).toMatchObject({ error: 'unsupported_grant_type' });
    expect(password.json().access_token).toBeUndefined();

    for (const grantType of [
      'implicit',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:openid:params:grant-type:ciba',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:ietf:params:oauth:grant-type:saml2-bearer',
      'urn:ietf:params:oauth:grant-type:pre-authorized_code',
    ]) {
      const answer = await postForm(h.url('/token'), { grant_type: grantType }, { auth: reader });
      expect(answer.status, grantType).toBe(400);
      expect(answer.json().error, grantType).toBe('unsupported_grant_type');
    }

    // Token exchange is enabled, but only for clients an operator registered with it (docs/token-exchange.md).
    const exchange = await postForm(h.url('/token'), { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange' }, { auth: reader });
    expect(exchange.status).toBe(400);
    expect(exchange.json().error_description).toBe('requested grant type is not allowed for this client');
    expect(exchange.json().access_token).toBeUndefined();
  });

  it('refuses response modes that put the response in a fragment or elsewhere than query/form_post', async () => {
    const accepted: string[] = [];
    for (const mode of ['fragment', 'web_message', 'jwt', 'fragment.jwt']) {
      const { params } = authParams(f.reader.clientId, REDIRECT, 'openid contacts:read', { response_mode: mode });
      const response = await send(h.url(`/auth?${params}`));
      // Accepted = sent on to the login page, at the end of which the code would be delivered that way.
      if (response.location?.startsWith(`${h.issuer}/interaction/`)) {
        accepted.push(mode);
        continue;
      }
      expectRefused(response, `response_mode=${mode}`, ['unsupported_response_mode', 'invalid_request']);
    }
    expect(accepted).toEqual([]);
  });

  it('control: response_mode=form_post (the code stays out of URLs) goes on to sign-in', async () => {
    const { params } = authParams(f.reader.clientId, REDIRECT, 'openid contacts:read', { response_mode: 'form_post' });
    const response = await send(h.url(`/auth?${params}`));
    expect(response.status).toBe(303);
    expect(response.location?.startsWith(`${h.issuer}/interaction/`)).toBe(true);
  });

  it('discovery lists only the code response type and the enabled grants', async () => {
    const metadata = (await send(h.url('/.well-known/openid-configuration'))).json<Record<string, string[]>>();
    expect(metadata.response_types_supported).toEqual(['code']);
    expect([...(metadata.grant_types_supported ?? [])].sort()).toEqual([
      'authorization_code',
      'client_credentials',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
  });
});
