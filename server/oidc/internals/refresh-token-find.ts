// A look at the presented refresh token between the moment the refresh handler loads it and
// the moment it checks it.
//
// Relies on (oidc-provider 9.13.3, undocumented; pinned by test/oidc-internals/refresh-token-find.test.ts):
// - the refresh_token grant handler loads the presented token with
//   `provider.RefreshToken.find(value, { ignoreExpiration: true })`, before it validates the
//   grant and before it consumes anything;
// - `provider.RefreshToken` is a class of that provider alone, so the patch touches no other
//   provider (the app rebuilt after a key rotation starts from a new, unpatched one);
// - the handler decides "already used" afterwards, inline, from the `consumed` property of the
//   very instance `find` returned, so what the hook does to that instance is what it sees.
//
// Why not the public API: there is no hook between loading a refresh token and checking it
// (the `refresh_token.*` events come after), no helper to replace for the `consumed` check,
// and the adapter cannot tell this lookup from any other lookup of the same token.
import type Provider from 'oidc-provider';

export interface FoundRefreshToken {
  clientId?: string;
  grantId?: string;
  consumed?: unknown;
  resourceIndicators: Set<string>;
  consume(): Promise<void>;
}

type Find = (value: unknown, options?: unknown) => Promise<FoundRefreshToken | undefined>;

/**
 * Calls `inspect` with every refresh token the provider finds (it may throw, or change the
 * instance), and returns the original `find`, for lookups that must not go through it.
 */
export function inspectRefreshTokenLookups(provider: Provider, inspect: (found: FoundRefreshToken | undefined, value: unknown) => void): Find {
  const RefreshToken = provider.RefreshToken as unknown as { find: Find };
  const find = RefreshToken.find.bind(RefreshToken);
  RefreshToken.find = async function findForRedemption(value, options) {
    const found = await find(value, options);
    inspect(found, value);
    return found;
  };
  return find;
}
