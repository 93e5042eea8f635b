// Two protocol features oidc-provider has built in, configured as product decisions:
//
// DPoP (RFC 9449). Any client may bind its tokens to a key it holds by sending a proof with the
// token request; a client registered with `dpop_bound_access_tokens` must (a token request
// without a proof is refused, oidc-provider's checkDpopRequired). A public client's refresh
// token is bound to the same key (oidc-provider's set_rt_bindings.js; a confidential client's is
// already bound to it by its authentication, §5). Access tokens carry the binding as `cnf.jkt`,
// in the JWT and in the introspection answer.
//
// Server nonces (§8): the secret they are derived from is in the shared key material
// (services/shared-keys.ts), so every instance hands out and accepts the same nonces. With it
// the server always offers a nonce (DPoP-Nonce) and answers a proof whose `iat` is off with
// `use_dpop_nonce` rather than a plain refusal; DPOP_NONCE=true makes every proof carry one.
//
// PAR (RFC 9126): on for every client; required for clients registered with
// `require_pushed_authorization_requests`, and for all with REQUIRE_PAR=true (then discovery
// says `require_pushed_authorization_requests: true`).
import type { Config } from '../config/env.ts';
import type { KeyMaterial } from '../config/keys.ts';

export function dpopFeature(config: Readonly<Pick<Config, 'dpopNonce'>>, keys: Pick<KeyMaterial, 'dpopNonce'>) {
  return {
    enabled: true,
    // Always present on a running server (loadSharedKeys adds it to key material that lacks
    // it); only the CLI's provider, which serves no request, may run without it.
    nonceSecret: keys.dpopNonce ? Buffer.from(keys.dpopNonce, 'base64url') : undefined,
    requireNonce: () => config.dpopNonce,
    // Every proof is single use (ReplayDetection, insert-only in the adapter: T18).
    allowReplay: false,
  };
}

export function pushedAuthorizationRequestsFeature(config: Readonly<Pick<Config, 'requirePar'>>) {
  return {
    enabled: true,
    requirePushedAuthorizationRequests: config.requirePar,
    // A pushed request still names a registered redirect URI (exact match, T1).
    allowUnregisteredRedirectUris: false,
  };
}
