// T3 loopback and scheme rules for redirect URIs (RFC 9700 §2.6; RFC 8252 §7.3; oidc-provider
// test/oauth_native_apps; Keycloak CVE-2026-9086, CVE-2024-8883; connect2id redirect URI rules).
//
// A native client registered with http://127.0.0.1/cb may come back on any port (RFC 8252 §7.3)
// but every other component must match exactly: a query, a look-alike host, another loopback
// address family or the name `localhost` are refused with the error page.
//
// Registration, by the operator CLI (management API) and by dynamic registration (/reg), refuses
// for a web client: a plain-http non-loopback URI (RFC 9700 §2.6: redirect URIs must be protected
// by TLS; loopback http stays allowed for local development), `javascript:` in any letter case,
// `data:`, `vbscript:`, a fragment and a relative URI; for a native client: the same dangerous
// schemes, fragments and relative URIs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CONTACTS, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authParams, obtainCode, redeemCode, register, send } from './support.ts';

const NATIVE_REGISTERED = 'http://127.0.0.1/cb';

const DANGEROUS = ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox(1)'];
const WEB_REFUSED = ['http://app.example/cb', ...DANGEROUS, 'https://app.example/cb#frag', '/cb'];
const NATIVE_REFUSED = [...DANGEROUS, 'http://127.0.0.1/cb#frag', 'cb'];

describe.each(STORES)('T3 loopback and scheme rules (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let nativeId: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    nativeId = (
      await h.management.clients.add({
        name: 'CLI',
        native: true,
        public: true,
        redirectUris: [NATIVE_REGISTERED],
        scope: 'openid contacts:read',
        resources: [CONTACTS],
      })
    ).clientId;
  });
  afterAll(async () => h?.close());

  it('a native client comes back on any loopback port, and the code redeems for that exact URI', async () => {
    const withPort = 'http://127.0.0.1:53111/cb';
    const issued = await obtainCode(h, f.user, { clientId: nativeId, redirectUri: withPort, scope: 'openid contacts:read' });
    expect(issued.location.startsWith(`${withPort}?code=`)).toBe(true);
    const tokens = await redeemCode(h, { id: nativeId }, { code: issued.code, code_verifier: issued.verifier, redirect_uri: withPort });
    expect(tokens.status).toBe(200);
  });

  it('refuses every other loopback near miss with the error page', async () => {
    for (const variant of [
      'http://127.0.0.1:53111/cb?x=1',
      'http://127.0.0.1:53111/cb/',
      'http://127.0.0.1:53111/CB',
      'http://127.0.0.1.evil.com/cb',
      'http://127.0.0.1.evil.com:53111/cb',
      'http://[::1]:5/cb',
      'http://localhost:53111/cb',
      'https://127.0.0.1:53111/cb',
      'http://127.0.0.2:53111/cb',
      'http://evil.com@127.0.0.1:53111/cb',
    ]) {
      const { params } = authParams(nativeId, variant, 'openid contacts:read');
      const response = await send(h.url(`/auth?${params}`));
      expect(response.status, variant).toBe(400);
      expect(response.location, variant).toBeUndefined();
      expect(response.body, variant).toContain('invalid_redirect_uri');
    }
  });

  it('the operator CLI refuses unsafe redirect URIs for web and native clients', async () => {
    const accepted: string[] = [];
    for (const [native, uris] of [[false, WEB_REFUSED], [true, NATIVE_REFUSED]] as const) {
      for (const uri of uris) {
        const outcome = await h.management.clients
          .add({ name: 'Bad', native, redirectUris: [uri], scope: 'openid contacts:read', resources: [CONTACTS] })
          .then(
            () => 'accepted',
            (error: Error) => error.message,
          );
        if (!/redirect_uris/.test(outcome)) accepted.push(`${native ? 'native' : 'web'} ${uri}: ${outcome}`);
      }
    }
    expect(accepted).toEqual([]);
    // Control: the same call with an acceptable URI works.
    await expect(
      h.management.clients.add({ name: 'Good', redirectUris: ['https://app.example/cb'], scope: 'openid contacts:read', resources: [CONTACTS] }),
    ).resolves.toHaveProperty('clientId');
  });

  it('dynamic registration refuses unsafe redirect URIs for web and native clients', async () => {
    const iat = await new h.app.provider.InitialAccessToken({}).save();
    const accepted: string[] = [];
    for (const [applicationType, uris] of [['web', WEB_REFUSED], ['native', NATIVE_REFUSED]] as const) {
      for (const uri of uris) {
        const response = await register(h, { application_type: applicationType, redirect_uris: [uri] }, iat);
        const error = response.status === 400 ? response.json().error : undefined;
        if (error !== 'invalid_redirect_uri' && error !== 'invalid_client_metadata') {
          accepted.push(`${applicationType} ${uri}: ${response.status} ${response.body.slice(0, 120)}`);
        }
      }
    }
    expect(accepted).toEqual([]);
    // Control: a safe registration with the same token succeeds.
    expect((await register(h, { redirect_uris: ['https://app.example/cb'] }, iat)).status).toBe(201);
  });
});
