// T13 a scope is never silently granted, never silently widened (ASVS 10.4.11, 10.7.2;
// RFC 9700 §2.3; oidc-provider test/resource_indicators "ignores unsupported scopes").
//
// Decision (brief, README "How tokens are scoped"): a scope outside the client's allow-list, or
// unknown, is refused with `invalid_scope` — never granted, and never dropped so that the rest of
// the request goes through. Checked at the authorization endpoint (`303` to the registered URI
// with `error=invalid_scope`, before any login page) and at the token endpoint with
// client_credentials (`400 invalid_scope`), including requests that mix an allowed scope with a
// disallowed, unknown, or other-resource one, and for OpenID Connect scopes outside the client's
// `scope` metadata. A code exchange that names a wider `scope` never
// yields a wider token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authParams, introspect, obtainCode, postForm, redeemCode, send, target } from './support.ts';

describe.each(STORES)('T13 scope never silently granted or widened (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let narrowId: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    // Allowed `openid` but none of profile/email/offline_access.
    narrowId = (await h.management.clients.add({ name: 'Narrow', redirectUris: [REDIRECT], scope: 'openid contacts:read', resources: [CONTACTS] })).clientId;
  });
  afterAll(async () => h?.close());

  const rs1 = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });

  it('authorization endpoint: anything outside the allow-list or unknown is invalid_scope', async () => {
    const cases: Array<[string, string, Record<string, string>]> = [
      [f.reader.clientId, 'contacts:read contacts:write', {}],
      [f.reader.clientId, 'openid contacts:read contacts:write', {}],
      [f.reader.clientId, 'openid contacts:read contacts:write', { resource: CONTACTS }],
      [f.reader.clientId, 'openid contacts:read contacts:admin', {}],
      [f.reader.clientId, 'openid contacts:read contacts:admin', { resource: CONTACTS }],
      [f.reader.clientId, 'openid contacts:read calendar:read', {}],
      [f.editor.clientId, 'openid contacts:read calendar:read', { resource: CONTACTS }],
      [f.editor.clientId, 'openid contacts:read unknown', {}],
      [narrowId, 'openid email contacts:read', {}],
      // OpenID Connect Core §11: without prompt=consent, offline_access is ignored (never granted).
      [narrowId, 'openid offline_access contacts:read', { prompt: 'consent' }],
    ];
    const wrong: string[] = [];
    for (const [clientId, scope, extra] of cases) {
      const { params, state } = authParams(clientId, REDIRECT, scope, extra);
      const response = await send(h.url(`/auth?${params}`));
      const label = `${clientId === f.reader.clientId ? 'reader' : clientId === narrowId ? 'narrow' : 'editor'}: ${scope} ${JSON.stringify(extra)}`;
      const answer = response.location && target(response.location) === REDIRECT ? new URL(response.location).searchParams : undefined;
      if (response.status !== 303 || answer?.get('error') !== 'invalid_scope' || answer.get('state') !== state) {
        wrong.push(`${label} → ${response.status} ${response.location ?? ''}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('token endpoint (client_credentials): anything outside the allow-list or unknown is invalid_scope', async () => {
    const service = { id: f.service.clientId, secret: f.service.clientSecret };
    for (const [scope, extra] of [
      ['contacts:read contacts:write', {}],
      ['contacts:read contacts:admin', {}],
      ['contacts:read contacts:admin', { resource: CONTACTS }],
      ['contacts:read calendar:read', {}],
      ['contacts:read calendar:read', { resource: CONTACTS }],
      ['contacts:read bogus', {}],
    ] as Array<[string, Record<string, string>]>) {
      const answer = await postForm(h.url('/token'), { grant_type: 'client_credentials', scope, ...extra }, { auth: service });
      expect(answer.status, `${scope} ${JSON.stringify(extra)}`).toBe(400);
      expect(answer.json().error, `${scope} ${JSON.stringify(extra)}`).toBe('invalid_scope');
      expect(answer.json().access_token).toBeUndefined();
    }
    // Control: the allowed scope alone is granted, and nothing more.
    const ok = await postForm(h.url('/token'), { grant_type: 'client_credentials', scope: 'contacts:read' }, { auth: service });
    expect(ok.status).toBe(200);
    expect(ok.json().scope).toBe('contacts:read');
    const info = (await introspect(h, rs1(), ok.json<{ access_token: string }>().access_token)).json();
    expect(info).toMatchObject({ active: true, scope: 'contacts:read', aud: CONTACTS });
  });

  it('a code exchange naming a wider scope never yields a wider token', async () => {
    const reader = { id: f.reader.clientId, secret: f.reader.clientSecret };
    const issued = await obtainCode(h, f.user, { clientId: reader.id, redirectUri: REDIRECT, scope: 'openid contacts:read' });
    const answer = await redeemCode(h, reader, {
      code: issued.code,
      code_verifier: issued.verifier,
      redirect_uri: REDIRECT,
      scope: 'openid contacts:read contacts:write',
    });
    if (answer.status === 400) {
      expect(answer.json().error).toBe('invalid_scope');
      return;
    }
    expect(answer.status).toBe(200);
    const info = (await introspect(h, rs1(), answer.json<{ access_token: string }>().access_token)).json();
    expect(info).toMatchObject({ active: true, scope: 'contacts:read' });
  });
});
