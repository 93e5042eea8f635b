// Pins internals/grant-handlers.ts, on which single use of codes and refresh tokens (T8, T14,
// T34-T36) and holding a refresh token to its grant depend: the deep grant modules keep their
// shape, and on a real server the provider's handlers still call the helpers we replace
// (consumeGrantSource, validateGrant) and leave the entities we read. An upgrade that inlined a
// helper or renamed an entity would quietly bypass our rules; these tests then see the
// provider's own texts, an unnarrowed token, or a grant that survives reuse.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KoaContextWithOIDC } from 'oidc-provider';
import * as codeGrant from 'oidc-provider/lib/actions/grants/authorization_code.js';
import * as refreshGrant from 'oidc-provider/lib/actions/grants/refresh_token.js';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';
import { presentedRefreshToken, providerGrant, redeemedAuthorizationCode } from '../../server/oidc/internals/grant-handlers.ts';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';
import { obtainCode, redeemCode } from '../security/support.ts';

type Ctx = KoaContextWithOIDC;
interface Token {
  jti: string;
  grantId: string;
  scope?: string;
}

describe('the deep grant modules keep the shape providerGrant binds', () => {
  it('each grant module exports handler(provider, helpers, ctx), its parameters and its grant type', () => {
    expect(codeGrant.handler).toBeTypeOf('function');
    expect(codeGrant.handler.length).toBe(3);
    expect(codeGrant.grantType).toBe('authorization_code');
    expect(refreshGrant.handler).toBeTypeOf('function');
    expect(refreshGrant.handler.length).toBe(3);
    expect(refreshGrant.grantType).toBe('refresh_token');
  });

  it('the parameters are the grants’ own (we add resource when registering)', () => {
    expect([...codeGrant.parameters].sort()).toEqual(['code', 'code_verifier', 'redirect_uri']);
    expect([...refreshGrant.parameters].sort()).toEqual(['refresh_token', 'scope']);
  });

  it('the helpers we replace take the provider first, and every export is a helper to bind', () => {
    expect(grantHelpers.consumeGrantSource.length).toBe(4); // (provider, ctx, source, label)
    expect(grantHelpers.validateGrant.length).toBe(3); // (provider, ctx, grantId)
    for (const [name, helper] of Object.entries(grantHelpers)) expect([name, typeof helper]).toEqual([name, 'function']);
  });
});

describe.each(STORES)('the provider’s grant handlers run our helpers on a real server (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  const succeeded: Ctx[] = [];
  // The provider answers every invalid_grant with one description; the reason is the error's detail.
  const failed: Array<{ ctx: Ctx; detail: unknown }> = [];
  const onSuccess = (ctx: Ctx) => succeeded.push(ctx);
  const onError = (ctx: Ctx, error: { error_detail?: unknown }) => failed.push({ ctx, detail: error.error_detail });

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    h.app.provider.on('grant.success', onSuccess);
    h.app.provider.on('grant.error', onError);
  });
  afterAll(async () => {
    h?.app.provider.off('grant.success', onSuccess);
    h?.app.provider.off('grant.error', onError);
    await h?.close();
  });
  afterEach(() => {
    succeeded.length = 0;
    failed.length = 0;
  });

  const editor = () => ({ id: f.editor.clientId, secret: f.editor.clientSecret });
  const refresh = (token: string) => tokenRequest(h.issuer, editor(), { grant_type: 'refresh_token', refresh_token: token });

  async function tokens(scope = 'openid contacts:read contacts:write') {
    const issued = await obtainCode(h, f.user, { clientId: f.editor.clientId, redirectUri: REDIRECT, scope });
    const answer = await redeemCode(h, editor(), { code: issued.code, redirect_uri: REDIRECT, code_verifier: issued.verifier });
    expect(answer.status).toBe(200);
    return { issued, body: answer.json<{ access_token: string; refresh_token: string }>() };
  }

  it('providerGrant registers with the grants’ own parameters', () => {
    expect(providerGrant(h.app.provider, 'authorization_code').parameters).toBe(codeGrant.parameters);
    expect(providerGrant(h.app.provider, 'refresh_token').parameters).toBe(refreshGrant.parameters);
  });

  it('a code is consumed through consumeGrantSource, then left as the AuthorizationCode entity', async () => {
    const { issued } = await tokens();
    const code = redeemedAuthorizationCode<Token>(succeeded.at(-1) as Ctx);
    expect(code?.jti).toBe(issued.code);

    const replay = await redeemCode(h, editor(), { code: issued.code, redirect_uri: REDIRECT, code_verifier: issued.verifier });
    expect(replay.json().error).toBe('invalid_grant');
    // Our consumeGrantSource's reason; the provider's own is "authorization code already consumed".
    expect(failed.map((failure) => failure.detail)).toEqual(['authorization code already used']);
  });

  it('a refresh loads the grant through validateGrant, where the presented token is held to it', async () => {
    const { body } = await tokens();
    const grantId = ((await h.app.provider.AccessToken.find(body.access_token)) as unknown as Token).grantId;
    // Narrow the grant alone: the stored refresh token still carries contacts:write.
    const grant = await h.app.provider.Grant.find(grantId);
    if (!grant) throw new Error('no grant');
    grant.resources = { [CONTACTS]: 'contacts:read' };
    await grant.save();
    expect(((await h.app.provider.RefreshToken.find(body.refresh_token)) as unknown as Token).scope).toContain('contacts:write');

    const next = await refresh(body.refresh_token);
    expect(next.status).toBe(200);
    const ctx = succeeded.at(-1) as Ctx;
    // The presented token, narrowed before the successor was copied from it.
    const presented = presentedRefreshToken<Token>(ctx);
    expect(presented?.jti).toBe(body.refresh_token);
    expect(presented?.scope).not.toContain('contacts:write');
    const successor = ctx.oidc.entities.RefreshToken as unknown as Token;
    expect(successor.jti).toBe(next.body.refresh_token);
    expect(successor.scope).not.toContain('contacts:write');
  });

  it('a refresh that loses the consume still has the presented token at hand: reuse revokes its grant', async () => {
    const { body } = await tokens();
    const second = await refresh(body.refresh_token);
    const third = await refresh(second.body.refresh_token as string);
    expect(third.status).toBe(200);

    const reuse = await refresh(body.refresh_token);
    expect(reuse.body.error).toBe('invalid_grant');
    expect(failed.map((failure) => failure.detail)).toEqual(['refresh token already used']);
    expect(presentedRefreshToken<Token>((failed.at(-1) as { ctx: Ctx }).ctx)?.jti).toBe(body.refresh_token);
    // Revoked through the presented token's grantId: the newest pair is dead too.
    expect((await refresh(third.body.refresh_token as string)).body.error).toBe('invalid_grant');
  });
});
