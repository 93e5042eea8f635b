// T20 introspection answers only the token's audience (RFC 7662 §2.1, §4; ASVS 10.3.1;
// oidc-provider pitfall 5: the default allowedPolicy lets any confidential client introspect
// any token).
//
// Decisions: a resource server learns about an access token only when it is the token's
// audience (catalogue "Decisions already taken"); the token's own client learns nothing
// (`{"active": false}`: RFC 7662 lets the AS choose; the brief fixes it); a refresh token is
// described only to its own client. Everyone else — another resource server, another
// confidential client, a public client, the service client — gets exactly `{"active": false}`,
// the same bytes as for a made-up token, whatever `token_type_hint` says. No credentials:
// `401 invalid_client` (RFC 6749 §5.2: "no client authentication included"). Every answer carries
// `Cache-Control: no-store`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { introspect, obtainCode, postForm, redeemCode, type RawResponse } from './support.ts';

describe.each(STORES)('T20 introspection answers only the token audience (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let accessToken: string;
  let refreshToken: string;
  let serviceToken: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    const issued = await obtainCode(h, f.user, { clientId: f.reader.clientId, redirectUri: REDIRECT, scope: 'openid contacts:read' });
    const tokens = await redeemCode(h, { id: f.reader.clientId, secret: f.reader.clientSecret }, { code: issued.code, code_verifier: issued.verifier, redirect_uri: REDIRECT });
    ({ access_token: accessToken, refresh_token: refreshToken } = tokens.json<{ access_token: string; refresh_token: string }>());
    const service = await postForm(
      h.url('/token'),
      { grant_type: 'client_credentials', scope: 'contacts:read' },
      { auth: { id: f.service.clientId, secret: f.service.clientSecret } },
    );
    serviceToken = service.json<{ access_token: string }>().access_token;
  });
  afterAll(async () => h?.close());

  const rs1 = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });
  const rs2 = () => ({ id: f.calendar.clientId, secret: f.calendar.clientSecret });
  const reader = () => ({ id: f.reader.clientId, secret: f.reader.clientSecret });
  const editor = () => ({ id: f.editor.clientId, secret: f.editor.clientSecret });
  const service = () => ({ id: f.service.clientId, secret: f.service.clientSecret });

  const asPublicClient = (token: string, hint?: string) =>
    postForm(h.url('/token/introspection'), { token, client_id: f.spa.clientId, ...(hint ? { token_type_hint: hint } : {}) });

  function expectNoStore(response: RawResponse) {
    expect(response.headers.get('cache-control')).toContain('no-store');
  }

  function expectInactive(response: RawResponse, label: string, reference: string) {
    expect(response.status, label).toBe(200);
    expect(response.json(), label).toEqual({ active: false });
    // The same bytes as for a token that does not exist: no token-scanning oracle.
    expect(response.body, label).toBe(reference);
    expectNoStore(response);
  }

  it('the audience resource server learns the token: active, aud, scope, client_id, sub, exp', async () => {
    const response = await introspect(h, rs1(), accessToken);
    expect(response.status).toBe(200);
    expectNoStore(response);
    const info = response.json();
    expect(info).toMatchObject({ active: true, aud: CONTACTS, scope: 'contacts:read', client_id: f.reader.clientId, sub: f.user.id });
    expect(info.exp).toEqual(expect.any(Number));
    expect(info.exp as number).toBeGreaterThan(Date.now() / 1000);
  });

  it('everyone else learns nothing about the access token, whatever the hint', async () => {
    const reference = (await introspect(h, rs1(), 'made-up-token')).body;
    expect(JSON.parse(reference)).toEqual({ active: false });
    for (const hint of [undefined, 'access_token', 'refresh_token']) {
      expectInactive(await introspect(h, rs2(), accessToken, hint), `other resource server, hint ${hint}`, reference);
      expectInactive(await introspect(h, reader(), accessToken, hint), `the token's own client, hint ${hint}`, reference);
      expectInactive(await introspect(h, editor(), accessToken, hint), `another confidential client, hint ${hint}`, reference);
      expectInactive(await introspect(h, service(), accessToken, hint), `the service client, hint ${hint}`, reference);
      expectInactive(await asPublicClient(accessToken, hint), `a public client, hint ${hint}`, reference);
    }
  });

  it('a client_credentials token is described to its resource server only, not to its own client', async () => {
    expect((await introspect(h, rs1(), serviceToken)).json()).toMatchObject({ active: true, aud: CONTACTS, client_id: f.service.clientId });
    const reference = (await introspect(h, service(), 'made-up-token')).body;
    expectInactive(await introspect(h, service(), serviceToken), 'own client', reference);
    expectInactive(await introspect(h, rs2(), serviceToken), 'other resource server', reference);
  });

  it('a refresh token is described only to its own client', async () => {
    const own = await introspect(h, reader(), refreshToken);
    expect(own.json()).toMatchObject({ active: true, client_id: f.reader.clientId });
    expectNoStore(own);
    const reference = (await introspect(h, rs1(), 'made-up-token')).body;
    for (const hint of [undefined, 'refresh_token']) {
      expectInactive(await introspect(h, rs1(), refreshToken, hint), `its audience's resource server, hint ${hint}`, reference);
      expectInactive(await introspect(h, editor(), refreshToken, hint), `another confidential client, hint ${hint}`, reference);
      expectInactive(await asPublicClient(refreshToken, hint), `a public client, hint ${hint}`, reference);
    }
  });

  it('no client credentials: 401 invalid_client, nothing about the token', async () => {
    const response = await postForm(h.url('/token/introspection'), { token: accessToken });
    expect(response.status).toBe(401);
    expect(response.json().error).toBe('invalid_client');
    expect(response.json().active).toBeUndefined();
    expectNoStore(response);
  });
});
