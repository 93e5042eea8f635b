// T9 a code is bound to its client, its redirect URI and its lifetime (RFC 6749 §4.1.3;
// ASVS 10.4.3; oidc-provider test/authorization_code "validates code belongs to client",
// "validates used redirect_uri", "validates code is not expired").
//
// A code issued to C (redirect URIs https://app.example/cb and https://app.example/other) is
// `400 invalid_grant` when redeemed by another confidential client D with its own valid
// credentials, by a public client, or by C with its *other* registered redirect URI. Decision:
// such a presentation is not a replay by C and does not burn the code (C still redeems it).
// Lifetime: on a server with AUTHORIZATION_CODE_TTL=5, a code redeemed after 6 s is
// `invalid_grant`, while a code from the same server redeemed at once works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CONTACTS, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { obtainCode, redeemCode, sleep } from './support.ts';

const CB = 'https://app.example/cb';
const OTHER = 'https://app.example/other';

async function addApp(h: Harness) {
  const created = await h.management.clients.add({ name: 'App', redirectUris: [CB, OTHER], scope: 'openid contacts:read', resources: [CONTACTS] });
  return { id: created.clientId, secret: created.clientSecret as string };
}

describe.each(STORES)('T9 code bound to client, redirect URI and lifetime (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let app: { id: string; secret: string };

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    app = await addApp(h);
  });
  afterAll(async () => h?.close());

  it('another client, a public client, or the other registered URI: invalid_grant; the code survives for C', async () => {
    const issued = await obtainCode(h, f.user, { clientId: app.id, redirectUri: CB, scope: 'openid contacts:read' });
    const fields = { code: issued.code, code_verifier: issued.verifier };

    const byOtherClient = await redeemCode(h, { id: f.editor.clientId, secret: f.editor.clientSecret }, { ...fields, redirect_uri: CB });
    expect(byOtherClient.status).toBe(400);
    expect(byOtherClient.json().error).toBe('invalid_grant');

    const byPublicClient = await redeemCode(h, { id: f.spa.clientId }, { ...fields, redirect_uri: CB });
    expect(byPublicClient.status).toBe(400);
    expect(byPublicClient.json().error).toBe('invalid_grant');

    const otherUri = await redeemCode(h, app, { ...fields, redirect_uri: OTHER });
    expect(otherUri.status).toBe(400);
    expect(otherUri.json().error).toBe('invalid_grant');

    const owner = await redeemCode(h, app, { ...fields, redirect_uri: CB });
    expect(owner.status).toBe(200);
  });

  it('a code outlives its lifetime by a second: invalid_grant', async () => {
    const short = await startServer({ store, env: { AUTHORIZATION_CODE_TTL: '5' } });
    try {
      const g = await createFixtures(short);
      const shortApp = await addApp(short);
      const stale = await obtainCode(short, g.user, { clientId: shortApp.id, redirectUri: CB, scope: 'openid contacts:read' });
      const issuedAt = Date.now();
      // Control: a fresh code from this server redeems.
      const fresh = await obtainCode(short, g.user, { clientId: shortApp.id, redirectUri: CB, scope: 'openid contacts:read' }, stale.agent);
      expect((await redeemCode(short, shortApp, { code: fresh.code, code_verifier: fresh.verifier, redirect_uri: CB })).status).toBe(200);

      await sleep(Math.max(0, issuedAt + 6_000 - Date.now()));
      const late = await redeemCode(short, shortApp, { code: stale.code, code_verifier: stale.verifier, redirect_uri: CB });
      expect(late.status).toBe(400);
      expect(late.json().error).toBe('invalid_grant');
    } finally {
      await short.close();
    }
  }, 30_000);
});
