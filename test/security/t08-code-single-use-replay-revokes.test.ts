// T8 an authorization code is single use, and a replay revokes what it issued (RFC 6749
// §4.1.2, §10.5; RFC 9700 §4.2.4; ASVS 10.4.2; conformance oidcc-codereuse,
// oidcc-codereuse-30seconds).
//
// Decision (catalogue "Decisions already taken"): a sequential replay of a code is refused with
// `invalid_grant` and the grant is revoked: the access token issued by the first redemption
// introspects `{"active": false}` at its resource server and its refresh token is
// `invalid_grant`. Checked right after the first redemption (public client) and after a 30 s
// wait (confidential client). Parallel replays are T34.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { introspect, obtainCode, postForm, redeemCode, sleep } from './support.ts';

describe.each(STORES)('T8 code single use, replay revokes (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const rs = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });

  async function replayScenario(client: { id: string; secret?: string }, waitMs: number) {
    const issued = await obtainCode(h, f.user, { clientId: client.id, redirectUri: REDIRECT, scope: 'openid contacts:read' });
    const fields = { code: issued.code, redirect_uri: REDIRECT, code_verifier: issued.verifier };
    const first = await redeemCode(h, client, fields);
    expect(first.status).toBe(200);
    const { access_token: accessToken, refresh_token: refreshToken } = first.json<{ access_token: string; refresh_token: string }>();
    expect(refreshToken).toEqual(expect.any(String));
    // Alive before the replay: the revocation below is the replay's doing.
    expect((await introspect(h, rs(), accessToken)).json()).toMatchObject({ active: true });

    await sleep(waitMs);
    const replay = await redeemCode(h, client, fields);
    expect(replay.status).toBe(400);
    expect(replay.json().error).toBe('invalid_grant');
    expect(replay.json().access_token).toBeUndefined();

    expect((await introspect(h, rs(), accessToken)).json()).toEqual({ active: false });
    const refresh = await postForm(
      h.url('/token'),
      { grant_type: 'refresh_token', refresh_token: refreshToken, ...(client.secret === undefined ? { client_id: client.id } : {}) },
      client.secret === undefined ? {} : { auth: { id: client.id, secret: client.secret } },
    );
    expect(refresh.status).toBe(400);
    expect(refresh.json().error).toBe('invalid_grant');
  }

  it('an immediate replay is refused and revokes the access and refresh tokens (public client)', async () => {
    await replayScenario({ id: f.spa.clientId }, 0);
  });

  it('a replay 30 s later is refused and revokes the access and refresh tokens (confidential client)', async () => {
    await replayScenario({ id: f.reader.clientId, secret: f.reader.clientSecret }, 30_000);
  }, 60_000);
});
