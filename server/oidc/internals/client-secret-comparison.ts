// A say in every wrong client secret, before the provider answers it.
//
// Relies on (oidc-provider 9.13.3, undocumented; pinned by test/oidc-internals/client-secret-comparison.test.ts):
// - client authentication (lib/shared/client_auth.js) awaits
//   `ctx.oidc.client.compareClientSecret(secret)` for client_secret_basic and client_secret_post
//   alike, on every endpoint that authenticates clients (token, introspection, revocation, PAR);
// - clients are instances of `provider.Client`, a class of that provider alone, so patching its
//   prototype touches no other provider (the app rebuilt after a key rotation starts from a
//   new, unpatched one);
// - an error thrown from the comparison is the answer (it is not turned into invalid_client),
//   and runs inside the request, so `Provider.ctx` is the request's context there.
// `compareClientSecret` is typed (@types/oidc-provider) but not documented as a hook.
//
// Why not the public API: no event or hook runs between a failed secret check and the answer;
// the `*.error` events come after it is decided (too late to answer 429 instead of 401), and
// telling a wrong secret from an unknown client or an expired secret would then mean matching
// the provider's error texts instead.
import type Provider from 'oidc-provider';

/**
 * Runs `onWrong(clientId)` after every comparison that did not match. A right secret always
 * authenticates; `onWrong` may throw, and what it throws is the answer.
 */
export function onWrongClientSecret(provider: Provider, onWrong: (clientId: string) => Promise<void>): void {
  const prototype = provider.Client.prototype as unknown as {
    clientId: string;
    compareClientSecret(actual: string): Promise<boolean> | boolean;
  };
  const compare = prototype.compareClientSecret;
  prototype.compareClientSecret = async function compareAndReport(actual: string) {
    const matches = await compare.call(this, actual);
    if (matches) return true;
    await onWrong(this.clientId);
    return false;
  };
}
