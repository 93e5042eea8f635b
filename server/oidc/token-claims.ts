// Claims a token carries beyond the provider's own (RFC 8693 `act` on exchanged tokens). The
// provider asks for them through one hook (`extraTokenClaims`) while it saves an access token,
// and stores them with it: introspection returns them and JWT access tokens carry them. Code
// that makes a token says what it should carry before saving it.
const pending = new WeakMap<object, Record<string, unknown>>();

/** Adds claims to a token that is about to be saved. */
export function addTokenClaims(token: object, claims: Record<string, unknown>): void {
  pending.set(token, { ...pending.get(token), ...claims });
}

/** oidc-provider's `extraTokenClaims(ctx, token)` configuration hook. */
export async function extraTokenClaims(_ctx: unknown, token: object): Promise<Record<string, unknown> | undefined> {
  return pending.get(token);
}
