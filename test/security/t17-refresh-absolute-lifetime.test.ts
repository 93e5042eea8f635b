// T17 refresh has an absolute lifetime: rotation never extends the grant (ASVS 10.4.8, RFC 9700
// §4.14.2), and a disabled user can no longer refresh (findAccount answers nothing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T17 refresh absolute lifetime (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store, env: { GRANT_TTL: '6', REFRESH_TOKEN_TTL: '6' } });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const reader = () => ({ id: f.reader.clientId, secret: f.reader.clientSecret });

  it('rotating every 2 s does not carry a refresh past the grant lifetime', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    let refresh = (await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens.refresh_token as string;
    const started = Date.now();
    let refused: { at: number; error?: string } | undefined;
    while (!refused && Date.now() - started < 12_000) {
      await new Promise((r) => setTimeout(r, 2000));
      const next = await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: refresh });
      if (next.status === 200) refresh = next.body.refresh_token as string;
      else refused = { at: Date.now() - started, error: next.body.error };
    }
    expect(refused?.error).toBe('invalid_grant');
    expect(refused?.at).toBeLessThan(9000);
  });

  it('a disabled user cannot refresh', async () => {
    const user = await h.management.accounts.create({ email: `hank-${store}@example.com`, password: 'hank password 1' });
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const refresh = (await codeFlow(config, { email: user.email, password: 'hank password 1' }, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens
      .refresh_token as string;
    await h.management.accounts.setDisabled(user.id, true);
    expect((await tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: refresh })).body.error).toBe('invalid_grant');
  });
});
