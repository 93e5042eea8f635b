import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CONTACTS, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, codeFlow, completeInteraction, confidentialClient, publicClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('authorization code + PKCE through login and consent (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('issues an audience-bound contacts:read token, an ID token and a refresh token', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { tokens, callback } = await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid email contacts:read' });

    expect(callback.searchParams.get('iss')).toBe(h.issuer);
    // RFC 6749 §5.1: `scope` describes the access token, which is for the contacts API only.
    expect(tokens.scope).toBe('contacts:read');
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.claims()?.sub).toBe(f.user.id);
    expect(tokens.claims()?.email).toBe(f.user.email);

    const rs = await confidentialClient(h, f.contacts.clientId, f.contacts.clientSecret);
    const info = await client.tokenIntrospection(rs, tokens.access_token);
    expect(info.active).toBe(true);
    expect(info.aud).toBe(CONTACTS);
    expect(info.scope).toBe('contacts:read');
    expect(info.sub).toBe(f.user.id);
    expect(info.client_id).toBe(f.reader.clientId);
  });

  it('works for a public client with PKCE only', async () => {
    const config = await publicClient(h, f.spa.clientId);
    const { tokens } = await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
  });

  /** Runs login and consent and returns the callback URL and PKCE verifier, without redeeming the code. */
  async function codeFor(config: client.Configuration, agent = new UserAgent(), scope = 'openid contacts:read') {
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope });
    const final = await completeInteraction(agent, request.url.toString(), REDIRECT, f.user);
    return { callback: new URL(final.location as string), request, agent, final };
  }

  const redeem = (code: string, verifier: string, redirectUri = REDIRECT, id = f.reader.clientId, secret = f.reader.clientSecret) =>
    fetch(h.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }));

  it('a code is single use: a replay is refused and revokes the tokens it issued', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { callback, request } = await codeFor(config);
    const code = callback.searchParams.get('code') as string;
    const first = await redeem(code, request.verifier);
    expect(first.status).toBe(200);
    const replay = await redeem(code, request.verifier);
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const rs = await confidentialClient(h, f.contacts.clientId, f.contacts.clientSecret);
    expect((await client.tokenIntrospection(rs, first.body.access_token as string)).active).toBe(false);
    await expect(client.refreshTokenGrant(config, first.body.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('ten concurrent redemptions of one code: exactly one succeeds, the rest get invalid_grant', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { callback, request } = await codeFor(config);
    const code = callback.searchParams.get('code') as string;
    const results = await Promise.all(Array.from({ length: 10 }, () => redeem(code, request.verifier)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 400 && r.body.error === 'invalid_grant')).toBe(true);
  });

  /** Makes the database refuse every access token row until the returned function is called. */
  async function refuseAccessTokenRows(): Promise<() => Promise<void>> {
    if (store === 'pg') {
      await h.db.raw(`CREATE FUNCTION refuse_access_token() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`);
      await h.db.raw(`CREATE TRIGGER refuse_access_token BEFORE INSERT ON oidc_payloads FOR EACH ROW WHEN (NEW.model = 'AccessToken') EXECUTE FUNCTION refuse_access_token()`);
      return async () => {
        await h.db.raw('DROP TRIGGER refuse_access_token ON oidc_payloads');
        await h.db.raw('DROP FUNCTION refuse_access_token()');
      };
    }
    await h.db.raw(`CREATE TRIGGER refuse_access_token BEFORE INSERT ON oidc_payloads WHEN NEW.model = 'AccessToken' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    return async () => void (await h.db.raw('DROP TRIGGER refuse_access_token'));
  }

  it('a redemption that fails to store its tokens leaves the code unused: the retry gets tokens, the grant lives', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { callback, request } = await codeFor(config);
    const code = callback.searchParams.get('code') as string;
    const restore = await refuseAccessTokenRows();
    let failed: Awaited<ReturnType<typeof redeem>>;
    try {
      failed = await redeem(code, request.verifier);
    } finally {
      await restore();
    }
    expect(failed).toMatchObject({ status: 500, body: { error: 'server_error' } });
    // The consume went down with the tokens: the code was never burnt, so this is no replay.
    const retry = await redeem(code, request.verifier);
    expect(retry.status).toBe(200);
    const rs = await confidentialClient(h, f.contacts.clientId, f.contacts.clientSecret);
    expect((await client.tokenIntrospection(rs, retry.body.access_token as string)).active).toBe(true);
    expect((await client.refreshTokenGrant(config, retry.body.refresh_token as string)).access_token).toBeTruthy();
    // And it is single use from there on.
    expect(await redeem(code, request.verifier)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('a wrong verifier or redirect URI is refused without burning the code', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { callback, request } = await codeFor(config);
    const code = callback.searchParams.get('code') as string;
    expect(await redeem(code, 'x'.repeat(43))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await redeem(code, request.verifier, 'http://127.0.0.1:9999/other')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await redeem(code, request.verifier, REDIRECT, f.editor.clientId, f.editor.clientSecret)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await redeem(code, request.verifier)).status).toBe(200);
  });

  it('does not ask again for what the user already approved, even in a new session', async () => {
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    await codeFor(config);
    // A fresh browser: the user signs in again, and goes straight back without a consent page.
    const agent = new UserAgent();
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const login = await agent.follow(request.url.toString(), REDIRECT);
    expect(login.body).toContain('/login"');
    const posted = await agent.request(new URL(formAction(login.body, '/login'), login.url).toString(), {
      form: { csrf: hiddenField(login.body, 'csrf'), email: f.user.email, password: f.user.password },
    });
    const afterLogin = await agent.follow(posted.location as string, REDIRECT);
    // Straight back to the app: no consent page in between.
    expect(afterLogin.status).toBe(303);
    expect(afterLogin.location).toContain('code=');
    // ...and one more request in the same session needs no page at all.
    const again = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const direct = await agent.follow(again.url.toString(), REDIRECT);
    expect(direct.status).toBe(303);
    expect(direct.location).toContain('code=');
  });

  it('asks again when the app wants more than was approved', async () => {
    const config = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    const { agent } = await codeFor(config, new UserAgent(), 'openid contacts:read');
    const wider = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read contacts:write' });
    const page = await agent.follow(wider.url.toString(), REDIRECT);
    expect(page.status).toBe(200);
    expect(page.body).toContain('/consent"');
    expect(page.body).toContain('contacts:write');
  });

  it('Deny returns access_denied to the app, with state and iss', async () => {
    const config = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid calendar:read' });
    const final = await completeInteraction(new UserAgent(), request.url.toString(), REDIRECT, { ...f.user, decision: 'deny' });
    const callback = new URL(final.location as string);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('iss')).toBe(h.issuer);
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('the consent and login pages are CSRF-protected and bound to their interaction', async () => {
    const config = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    const agent = new UserAgent();
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid calendar:read' });
    const login = await agent.follow(request.url.toString(), REDIRECT);
    const loginAction = /action="([^"]*\/login)"/.exec(login.body)?.[1] as string;
    const noToken = await agent.request(h.url(loginAction), { form: { email: f.user.email, password: f.user.password } });
    expect(noToken.status).toBe(403);
    const forged = await agent.request(h.url(loginAction), { form: { email: f.user.email, password: f.user.password, csrf: 'forged' } });
    expect(forged.status).toBe(403);
  });
});
