// Claims a token carries beyond the provider's own (RFC 8693 `act` on exchanged tokens; `acr`
// and `auth_time` of the sign-in behind a user's token). The provider asks for them through one
// hook (`extraTokenClaims`) while it saves an access token, and stores them with it:
// introspection returns them and JWT access tokens carry them. Code that makes a token says what
// it should carry before saving it.
const pending = new WeakMap<object, Record<string, unknown>>();

/** Adds claims to a token that is about to be saved. */
export function addTokenClaims(token: object, claims: Record<string, unknown>): void {
  pending.set(token, { ...pending.get(token), ...claims });
}

interface SignIn {
  acr?: unknown;
  authTime?: unknown;
}

/**
 * How the user behind a token signed in (issue 19; RFC 9068 §2.2.1 names `acr` and `auth_time`
 * for JWT access tokens, RFC 9470 §4 for introspection): from the code or refresh token the
 * token is issued for, which keep what the session had at the sign-in that made the grant.
 */
function signInClaims(ctx: unknown): Record<string, unknown> | undefined {
  const entities = (ctx as { oidc?: { entities?: { AuthorizationCode?: SignIn; RefreshToken?: SignIn } } } | undefined)?.oidc?.entities;
  const source = entities?.AuthorizationCode ?? entities?.RefreshToken;
  if (!source) return undefined;
  const claims: Record<string, unknown> = {};
  if (typeof source.acr === 'string') claims.acr = source.acr;
  if (typeof source.authTime === 'number') claims.auth_time = source.authTime;
  return Object.keys(claims).length ? claims : undefined;
}

/** oidc-provider's `extraTokenClaims(ctx, token)` configuration hook. */
export async function extraTokenClaims(ctx: unknown, token: object): Promise<Record<string, unknown> | undefined> {
  const own = pending.get(token);
  const signIn = signInClaims(ctx);
  return own || signIn ? { ...signIn, ...own } : undefined;
}
