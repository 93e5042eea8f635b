// oidc-provider ships no types for its internal modules; these are the ones single-use.ts wraps.
declare module 'oidc-provider/lib/actions/grants/refresh_token.js';
declare module 'oidc-provider/lib/actions/grants/authorization_code.js';
declare module 'oidc-provider/lib/helpers/grants.js';
declare module 'oidc-provider/lib/helpers/fetch_request.js' {
  export function isSpecialUseIP(address: string): boolean;
}
