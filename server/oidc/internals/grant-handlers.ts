// oidc-provider's own authorization_code and refresh_token grant handlers, with some of their
// helpers replaced, for single-use.ts to wrap instead of re-implementing them.
//
// Relies on (oidc-provider 9.13.3, undocumented; pinned by test/oidc-internals/grant-handlers.test.ts):
// - lib/actions/grants/authorization_code.js and refresh_token.js export
//   `handler(provider, helpers, ctx)` and `parameters` (the grant's own parameters, a Set): the
//   provider registers them itself that way (lib/helpers/initialize_app.js);
// - lib/helpers/grants.js exports the helpers, each taking the provider first, and the handlers
//   call them only through `helpers`, so a replaced helper is the one that runs: the code
//   handler consumes the code with `consumeGrantSource(ctx, code, label)`, and both handlers
//   call `validateGrant(ctx, grantId)` right after loading the code or refresh token;
// - the entities the handlers leave on ctx.oidc (names documented, order not): the code handler
//   sets `AuthorizationCode` after consuming it; the refresh handler sets `RefreshToken` to the
//   presented token before consuming it and, once consumed, keeps it as `RotatedRefreshToken`
//   and moves `RefreshToken` to the successor.
//
// Why not the public API: `registerGrantType` replaces a grant's handler but gives no access to
// the one it replaces, and the pieces a handler is made of (PKCE, DPoP, mTLS and attestation
// binding checks, token minting) are not exported. Re-implementing both grants would mean
// copying some 300 lines of security-relevant code and keeping them in step by hand.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import * as codeGrant from 'oidc-provider/lib/actions/grants/authorization_code.js';
import * as refreshGrant from 'oidc-provider/lib/actions/grants/refresh_token.js';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';

type Ctx = KoaContextWithOIDC;
type Helper = (...args: unknown[]) => unknown;

const GRANTS = {
  authorization_code: codeGrant,
  refresh_token: refreshGrant,
} as const;

export type ProviderGrantType = keyof typeof GRANTS;

/** Replacements for the provider's grant helpers; each gets what the handler passes, without the provider. */
export interface GrantHelperOverrides {
  /** The code handler's way to consume the code (after PKCE, redirect_uri and binding checks, before minting). */
  consumeGrantSource?(ctx: Ctx, source: unknown, label: string): Promise<void>;
  /** Loads and checks the grant, right after the code or refresh token was loaded. */
  validateGrant?(ctx: Ctx, grantId: string): Promise<unknown>;
}

export interface ProviderGrant {
  /** Runs the provider's handler for this request, with the overrides in place of its helpers. */
  handle(ctx: Ctx): Promise<void>;
  /** The grant's own request parameters (without `grant_type`, and without `resource`). */
  parameters: ReadonlySet<string>;
}

/** The provider's handler for `type`, bound to `provider`, with `overrides` replacing its helpers. */
export function providerGrant(provider: Provider, type: ProviderGrantType, overrides: GrantHelperOverrides = {}): ProviderGrant {
  const helpers: Record<string, Helper> = Object.fromEntries(
    Object.entries(grantHelpers as unknown as Record<string, Helper>).map(([name, helper]) => [name, helper.bind(undefined, provider)]),
  );
  Object.assign(helpers, overrides);
  const { handler, parameters } = GRANTS[type];
  return {
    handle: (ctx) => handler(provider, helpers, ctx),
    parameters,
  };
}

/** The provider's own `validateGrant`: the grant exists, has not expired and is the client's. */
export function providerValidateGrant(provider: Provider, ctx: Ctx, grantId: string): Promise<unknown> {
  return grantHelpers.validateGrant(provider, ctx, grantId);
}

/** The refresh token this request presented, whether or not the handler has consumed it yet. */
export function presentedRefreshToken<T>(ctx: Ctx): T | undefined {
  const entities = ctx.oidc.entities as { RotatedRefreshToken?: T; RefreshToken?: T };
  return entities.RotatedRefreshToken ?? entities.RefreshToken;
}

/** The authorization code this request redeemed, once the handler has consumed it. */
export function redeemedAuthorizationCode<T>(ctx: Ctx): T | undefined {
  return (ctx.oidc.entities as { AuthorizationCode?: T }).AuthorizationCode;
}
