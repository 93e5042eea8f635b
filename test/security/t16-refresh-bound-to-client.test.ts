// T16 a refresh token is bound to its client (RFC 6749 §6, §10.4). Decision: another client's
// presentation is not "reuse" by the owner: it is refused and the owner's token keeps working.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T16 refresh bound to client (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('refuses another client and anonymous callers; the owner still refreshes', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const refresh = (await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens.refresh_token as string;

    const foreign = await tokenRequest(h.issuer, { id: f.editor.clientId, secret: f.editor.clientSecret }, { grant_type: 'refresh_token', refresh_token: refresh });
    expect(foreign).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    const anonymous = await fetch(h.url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_id: f.reader.clientId }),
    });
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toBe('invalid_client');

    const spa = await fetch(h.url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_id: f.spa.clientId }),
    });
    expect(spa.status).toBe(400);

    const owner = await tokenRequest(h.issuer, { id: f.reader.clientId, secret: f.reader.clientSecret }, { grant_type: 'refresh_token', refresh_token: refresh });
    expect(owner.status).toBe(200);
  });

  it('a bad resource from another client does not tell it the token exists', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const refresh = (await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens.refresh_token as string;
    const editor = { id: f.editor.clientId, secret: f.editor.clientSecret };
    for (const resource of ['https://unknown.api.test', f.calendar.id]) {
      const real = await tokenRequest(h.issuer, editor, { grant_type: 'refresh_token', refresh_token: refresh, resource });
      const made_up = await tokenRequest(h.issuer, editor, { grant_type: 'refresh_token', refresh_token: `${refresh.slice(0, -4)}abcd`, resource });
      // The same answer for another client's real token and for a token that does not exist.
      expect(real.status).toBe(made_up.status);
      expect(real.body.error).toBe(made_up.body.error);
      expect(real.body.error).toBe('invalid_grant');
    }
    // The owner is still told what is wrong with its own request.
    const own = await tokenRequest(h.issuer, { id: f.reader.clientId, secret: f.reader.clientSecret }, { grant_type: 'refresh_token', refresh_token: refresh, resource: f.calendar.id });
    expect(own.body.error).toBe('invalid_target');
  });
});
