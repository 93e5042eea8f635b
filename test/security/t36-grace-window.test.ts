// T36 grace window semantics (decision: a few seconds, only the immediately previous token, a
// bounded number of replays): a retry inside the window gets the same pair, at most
// MAX_GRACE_REPLAYS times (more are refused, the grant lives: the rule T35 checks in parallel);
// the window is fixed at the rotation, retries never extend it; an older token, a retry after
// the successor was used, or a retry after the window revokes the grant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { MAX_GRACE_REPLAYS } from '../../server/oidc/single-use.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T36 refresh grace window (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store, env: { REFRESH_GRACE_SECONDS: '2' } });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const reader = () => ({ id: f.reader.clientId, secret: f.reader.clientSecret });
  const refresh = (token: string) => tokenRequest(h.issuer, reader(), { grant_type: 'refresh_token', refresh_token: token });
  async function start() {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    return (await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens.refresh_token as string;
  }

  it('a retry of RT1 inside the window returns the same successor pair, and the client recovers', async () => {
    const rt1 = await start();
    const first = await refresh(rt1);
    const retry = await refresh(rt1);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).toBe(first.body.refresh_token);
    expect(retry.body.access_token).toBe(first.body.access_token);
    expect((await refresh(first.body.refresh_token as string)).status).toBe(200);
  });

  it('RT1 after RT2 was used is reuse, even inside the window: the grant is revoked', async () => {
    const rt1 = await start();
    const rt2 = (await refresh(rt1)).body.refresh_token as string;
    const rt3 = await refresh(rt2);
    expect((await refresh(rt1)).body.error).toBe('invalid_grant');
    expect((await refresh(rt3.body.refresh_token as string)).body.error).toBe('invalid_grant');
    expect(await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, rt3.body.access_token as string)).toEqual({
      active: false,
    });
  });

  it('replays are bounded; one beyond the bound is refused and the grant lives on', async () => {
    const rt1 = await start();
    const first = await refresh(rt1);
    for (let i = 0; i < MAX_GRACE_REPLAYS; i += 1) expect((await refresh(rt1)).body.refresh_token).toBe(first.body.refresh_token);
    expect((await refresh(rt1)).body.error).toBe('invalid_grant');
    expect((await refresh(first.body.refresh_token as string)).status).toBe(200);
  });

  it('retries do not extend the window: it ends when it began plus REFRESH_GRACE_SECONDS', async () => {
    const rt1 = await start();
    const first = await refresh(rt1);
    await new Promise((r) => setTimeout(r, 1300));
    expect((await refresh(rt1)).body.refresh_token).toBe(first.body.refresh_token);
    await new Promise((r) => setTimeout(r, 1000));
    // 2.3 s after the rotation, 1 s after the last retry: outside the 2 s window.
    expect((await refresh(rt1)).body.error).toBe('invalid_grant');
    expect((await refresh(first.body.refresh_token as string)).body.error).toBe('invalid_grant');
  });

  it('after the window, RT1 is reuse and revokes the grant', async () => {
    const rt1 = await start();
    const first = await refresh(rt1);
    await new Promise((r) => setTimeout(r, 3000));
    expect((await refresh(rt1)).body.error).toBe('invalid_grant');
    expect((await refresh(first.body.refresh_token as string)).body.error).toBe('invalid_grant');
  });

  it('another client presenting RT1 inside the window gets nothing', async () => {
    const rt1 = await start();
    await refresh(rt1);
    const foreign = await tokenRequest(h.issuer, { id: f.editor.clientId, secret: f.editor.clientSecret }, { grant_type: 'refresh_token', refresh_token: rt1 });
    expect(foreign).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});
