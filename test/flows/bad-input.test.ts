// Malformed, missing, oversized or hostile input gets the proper OAuth error (or our 4xx page),
// never a 500 and never internal details.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';

const STACK_TRACE = /\bat [\w.<>]+ \(|node_modules|\.ts:\d+|\.js:\d+/;

describe.each(STORES)('bad input (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let basic: string;
  let rsBasic: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    basic = `Basic ${Buffer.from(`${f.reader.clientId}:${f.reader.clientSecret}`).toString('base64')}`;
    rsBasic = `Basic ${Buffer.from(`${f.contacts.clientId}:${f.contacts.clientSecret}`).toString('base64')}`;
  });
  afterAll(async () => h?.close());

  async function send(path: string, init: RequestInit = {}) {
    const response = await fetch(h.url(path), { redirect: 'manual', ...init });
    const text = await response.text();
    expect(response.status, `${init.method ?? 'GET'} ${path} → ${response.status}: ${text.slice(0, 200)}`).toBeLessThan(500);
    expect(text).not.toMatch(STACK_TRACE);
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) as Record<string, string> };
  }

  const form = (fields: Record<string, string>, authorization = basic): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: new URLSearchParams(fields).toString(),
  });

  describe('authorization endpoint', () => {
    const good = () =>
      new URLSearchParams({
        client_id: f.reader.clientId,
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'openid contacts:read',
        state: 's',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      });

    it('shows an error page, never a redirect, when the client or redirect URI cannot be trusted', async () => {
      for (const mutate of [
        (p: URLSearchParams) => p.delete('client_id'),
        (p: URLSearchParams) => p.set('client_id', 'nope'),
        (p: URLSearchParams) => p.set('redirect_uri', 'https://evil.example/cb'),
        (p: URLSearchParams) => p.set('redirect_uri', `${REDIRECT}/extra`),
        (p: URLSearchParams) => p.delete('redirect_uri'),
      ]) {
        const params = good();
        mutate(params);
        const response = await send(`/auth?${params}`);
        expect(response.status).toBe(400);
        expect(response.headers.get('location')).toBeNull();
        expect(response.headers.get('content-type')).toMatch(/html/);
      }
    });

    it('escapes echoed input on the error page', async () => {
      const params = good();
      params.set('client_id', '<script>alert(1)</script>');
      const response = await send(`/auth?${params}`);
      expect(response.text).not.toContain('<script>alert(1)</script>');
    });

    it('redirects protocol errors to the registered redirect URI with iss and state', async () => {
      for (const [name, value, error] of [
        // Refused by its (fragment) response mode before its type: see t11.
        ['response_type', 'token', 'invalid_request'],
        ['scope', 'openid nonexistent:scope', 'invalid_scope'],
        ['scope', 'openid contacts:write', 'invalid_scope'],
        ['code_challenge_method', 'plain', 'invalid_request'],
        ['resource', 'https://unknown.api.test', 'invalid_target'],
        ['resource', 'not a uri', 'invalid_target'],
      ] as const) {
        const params = good();
        params.set(name, value);
        const response = await send(`/auth?${params}`);
        expect(response.status, `${name}=${value}`).toBe(303);
        const location = new URL(response.headers.get('location') as string);
        expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
        // A token response type defaults to the fragment response mode, its errors too.
        const answer = location.hash ? new URLSearchParams(location.hash.slice(1)) : location.searchParams;
        expect(answer.get('error'), `${name}=${value}`).toBe(error);
        expect(answer.get('iss')).toBe(h.issuer);
        expect(answer.get('state')).toBe('s');
      }
    });

    it('requires PKCE for confidential clients too', async () => {
      const params = good();
      params.delete('code_challenge');
      params.delete('code_challenge_method');
      const location = new URL((await send(`/auth?${params}`)).headers.get('location') as string);
      expect(location.searchParams.get('error')).toBe('invalid_request');
    });

    it('refuses repeated parameters and oversized values', async () => {
      const repeated = `${good()}&scope=openid`;
      const response = await send(`/auth?${repeated}`);
      expect(response.status === 303 || response.status === 400).toBe(true);
      const huge = good();
      huge.set('state', 'x'.repeat(100_000));
      const big = await fetch(h.url(`/auth?${huge}`), { redirect: 'manual' });
      expect(big.status).toBeLessThan(500);
    });
  });

  describe('token endpoint', () => {
    it('answers JSON OAuth errors for missing, unknown and malformed parameters', async () => {
      const cases: Array<[Record<string, string>, string]> = [
        [{}, 'invalid_request'],
        [{ grant_type: 'password', username: 'a', password: 'b' }, 'unsupported_grant_type'],
        [{ grant_type: 'implicit' }, 'unsupported_grant_type'],
        [{ grant_type: 'authorization_code' }, 'invalid_request'],
        [{ grant_type: 'authorization_code', code: 'nope', redirect_uri: REDIRECT, code_verifier: 'x'.repeat(43) }, 'invalid_grant'],
        [{ grant_type: 'refresh_token', refresh_token: 'nope' }, 'invalid_grant'],
        [{ grant_type: 'refresh_token' }, 'invalid_request'],
      ];
      for (const [fields, error] of cases) {
        const response = await send('/token', form(fields));
        expect(response.status, JSON.stringify(fields)).toBe(400);
        expect(response.json().error, JSON.stringify(fields)).toBe(error);
        expect(response.headers.get('cache-control')).toContain('no-store');
      }
    });

    it('refuses a JSON body, a broken body and a missing content type', async () => {
      for (const init of <RequestInit[]>[
        { method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: '{"grant_type":"client_credentials"}' },
        { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: '%%%&&&=' },
        { method: 'POST', headers: { authorization: basic }, body: 'grant_type=client_credentials' },
        { method: 'GET', headers: { authorization: basic } },
      ]) {
        const response = await send('/token', init);
        expect(response.status).toBeGreaterThanOrEqual(400);
      }
    });

    it('answers bad client authentication with 401 invalid_client', async () => {
      for (const authorization of [`Basic ${Buffer.from(`${f.reader.clientId}:wrong`).toString('base64')}`, `Basic ${Buffer.from('nobody:x').toString('base64')}`]) {
        const response = await send('/token', form({ grant_type: 'refresh_token', refresh_token: 'x' }, authorization));
        expect(response.status).toBe(401);
        expect(response.json().error).toBe('invalid_client');
      }
      const garbage = await send('/token', form({ grant_type: 'refresh_token', refresh_token: 'x' }, 'Basic !!!'));
      expect(garbage.status).toBe(400);
      expect(garbage.json().error).toBe('invalid_request');
    });

    it('refuses an oversized body', async () => {
      const response = await send('/token', form({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(1_000_000) }));
      expect([400, 413]).toContain(response.status);
    });
  });

  describe('introspection and revocation endpoints', () => {
    it('require the token parameter and client authentication', async () => {
      expect((await send('/token/introspection', form({}, rsBasic))).json().error).toBe('invalid_request');
      expect((await send('/token/revocation', form({}))).json().error).toBe('invalid_request');
      const anonymous = await send('/token/introspection', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' });
      expect(anonymous.status).toBeGreaterThanOrEqual(400);
      expect(anonymous.json().error).toMatch(/invalid_request|invalid_client/);
    });

    it('answers inactive or success for garbage tokens of any hint', async () => {
      for (const hint of ['access_token', 'refresh_token', 'bogus_hint', '']) {
        const introspected = await send('/token/introspection', form({ token: 'garbage', token_type_hint: hint }, rsBasic));
        expect(introspected.status).toBe(200);
        expect(introspected.json()).toEqual({ active: false });
        const revoked = await send('/token/revocation', form({ token: 'garbage', token_type_hint: hint }));
        expect(revoked.status).toBe(200);
      }
    });
  });

  describe('registration endpoint', () => {
    it('answers malformed registration requests with 4xx OAuth errors', async () => {
      const iat = await new h.app.provider.InitialAccessToken({}).save();
      const post = (body: string, type = 'application/json') =>
        send('/reg', { method: 'POST', headers: { authorization: `Bearer ${iat}`, 'content-type': type }, body });
      for (const body of ['{', '[]', '"string"', 'null', '{"redirect_uris":"not-an-array"}', '{"redirect_uris":["javascript:alert(1)"]}', '{"redirect_uris":["/relative"]}']) {
        const response = await post(body);
        expect(response.status, body).toBe(400);
        expect(response.json().error, body).toMatch(/invalid_request|invalid_client_metadata|invalid_redirect_uri/);
      }
      expect((await post('redirect_uris=x', 'application/x-www-form-urlencoded')).status).toBe(400);
      expect((await send('/reg/unknown-client', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    });
  });

  describe('our own pages', () => {
    it('answers interaction posts without an interaction cookie with a 400 page', async () => {
      const response = await send('/interaction/abc/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=a&password=b&csrf=x' });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/html/);
    });

    it('refuses an oversized form with 413', async () => {
      const response = await send('/interaction/abc/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `email=${'a'.repeat(200_000)}`,
      });
      expect([400, 413]).toContain(response.status);
    });

    it('answers unknown paths with a 404 page carrying the security headers', async () => {
      const response = await send('/no/such/page');
      expect(response.status).toBe(404);
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    });
  });
});
