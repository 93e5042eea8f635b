// The grant is the truth about what an app may do: no token carries more than the grant it was
// issued under. These functions measure a token against its grant; the account page uses them to
// narrow stored tokens when the user removes a scope, and the provider wiring uses them on every
// refresh and introspection, so a token written by a request that raced the removal cannot keep
// what the user took away.

/** The parts of a grant (oidc-provider's Grant payload) that say what it holds. */
export interface GrantScopes {
  openid?: { scope?: string } | undefined;
  resources?: Record<string, string> | undefined;
  rejected?: { openid?: { scope?: string }; resources?: Record<string, string> } | undefined;
  /**
   * Authorization details (RFC 9396) the user approved; each names its API in `locations`
   * (routes/consent-details.ts), so a grant of documents only still holds that API.
   */
  rar?: Array<{ type: string; locations?: unknown; [field: string]: unknown }> | undefined;
}

/** The parts of a refresh token (or code) that carry power. */
export interface TokenScopes {
  scope?: string | undefined;
  resource?: string | string[] | undefined;
  expiresWithSession?: boolean | undefined;
}

const words = (value: string | undefined): string[] => (value ?? '').split(' ').filter(Boolean);

/** What the grant holds now: OpenID Connect scopes, and per resource indicator its scopes. */
export function heldBy(grant: GrantScopes): { oidc: Set<string>; resources: Map<string, Set<string>> } {
  const rejectedOidc = new Set(words(grant.rejected?.openid?.scope));
  const oidc = new Set(words(grant.openid?.scope).filter((s) => !rejectedOidc.has(s)));
  const resources = new Map<string, Set<string>>();
  for (const [indicator, scopes] of Object.entries(grant.resources ?? {})) {
    const rejected = new Set(words(grant.rejected?.resources?.[indicator]));
    const held = words(scopes).filter((s) => !rejected.has(s));
    if (held.length) resources.set(indicator, new Set(held));
  }
  for (const detail of grant.rar ?? []) {
    for (const location of Array.isArray(detail.locations) ? detail.locations : []) {
      if (typeof location === 'string' && !resources.has(location)) resources.set(location, new Set());
    }
  }
  return { oidc, resources };
}

/**
 * The token narrowed to its grant: scopes the grant no longer holds are dropped, resources
 * whose every scope is gone are dropped, and a token that had offline_access without the grant
 * still holding it becomes bound to its login session (it ends with the session, as it would
 * have if offline_access had never been given). `changed` says whether anything was taken away.
 */
export function narrowToGrant(token: TokenScopes, grant: GrantScopes): { scope: string; resource: string | string[] | undefined; expiresWithSession: boolean | undefined; changed: boolean } {
  const held = heldBy(grant);
  const resourceScopes = new Set([...held.resources.values()].flatMap((set) => [...set]));
  const before = words(token.scope);
  const scope = before.filter((s) => held.oidc.has(s) || resourceScopes.has(s));
  const indicators = token.resource === undefined ? [] : Array.isArray(token.resource) ? token.resource : [token.resource];
  const keptIndicators = indicators.filter((indicator) => held.resources.has(indicator));
  const resource = token.resource === undefined ? undefined : Array.isArray(token.resource) ? keptIndicators : keptIndicators[0];
  const lostOffline = before.includes('offline_access') && !scope.includes('offline_access');
  const expiresWithSession = lostOffline ? true : token.expiresWithSession;
  const changed = scope.length !== before.length || keptIndicators.length !== indicators.length || expiresWithSession !== token.expiresWithSession;
  return { scope: scope.join(' '), resource: resource === undefined || (Array.isArray(resource) && resource.length === 0) ? undefined : resource, expiresWithSession, changed };
}

/** True when an access token carries a scope its grant no longer holds for the token's audience. */
export function exceedsGrant(token: { scope?: string | undefined; aud?: string | string[] | undefined }, grant: GrantScopes): boolean {
  const held = heldBy(grant);
  const audience = Array.isArray(token.aud) ? token.aud[0] : token.aud;
  const allowed = audience === undefined ? held.oidc : held.resources.get(audience);
  if (!allowed) return true;
  return words(token.scope).some((s) => !allowed.has(s));
}

/**
 * The grant with `scope` taken out (of `resource` only, when given: two APIs may define the same
 * name); a resource left with no scope leaves the grant.
 */
export function withoutScope<G extends GrantScopes>(grant: G, scope: string, resource?: string): { grant: G; removed: boolean } {
  let removed = false;
  const next: G = { ...grant };
  if (resource === undefined && scope !== 'openid' && words(grant.openid?.scope).includes(scope)) {
    next.openid = { ...grant.openid, scope: words(grant.openid?.scope).filter((s) => s !== scope).join(' ') };
    removed = true;
  }
  const resources: Record<string, string> = {};
  for (const [indicator, scopes] of Object.entries(grant.resources ?? {})) {
    const kept = words(scopes).filter((s) => s !== scope || (resource !== undefined && indicator !== resource));
    if (kept.length !== words(scopes).length) removed = true;
    if (kept.length) resources[indicator] = kept.join(' ');
  }
  if (grant.resources) next.resources = resources;
  return { grant: next, removed };
}
