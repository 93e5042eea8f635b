// The scope and resource model, applied through oidc-provider's resource indicator hooks.
//
// Rules (refuse, never silently grant or silently drop):
// - A scope is either an OpenID Connect scope (openid, profile, email, offline_access) or is
//   defined by exactly one resource server; anything else is `invalid_scope`.
// - A client may request only the resources and scopes on its allow-list (`resource_scopes`
//   metadata, plus the standard `scope` metadata for OIDC scopes); anything else is
//   `invalid_scope` / `invalid_target` (RFC 6749 §3.3, RFC 8707 §2).
// - A request without `resource` is bound to the resource servers its scopes belong to, so
//   clients that do not implement RFC 8707 still get audience-bound tokens.
// - Every access token has exactly one audience: the resource identifier (RFC 9068 §3).
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ResourceCatalog, ResourceServer, ResourceSnapshot } from '../services/resources.ts';
import { OIDC_SCOPES } from '../services/resources.ts';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;
type Ctx = KoaContextWithOIDC;

const oidcScopes = new Set<string>(OIDC_SCOPES);

export function allowedResourceScopes(client: Client): Map<string, Set<string>> {
  const raw = (client as unknown as { resource_scopes?: unknown }).resource_scopes;
  const allowed = new Map<string, Set<string>>();
  if (raw && typeof raw === 'object') {
    for (const [resource, scopes] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof scopes === 'string') allowed.set(resource, new Set(scopes.split(' ').filter(Boolean)));
    }
  }
  return allowed;
}

function requestedScopes(ctx: Ctx): string[] {
  const scope = ctx.oidc.params?.scope;
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}

function requestedResources(ctx: Ctx): string[] | undefined {
  const resource = ctx.oidc.params?.resource as string | string[] | undefined;
  if (resource === undefined) return undefined;
  return Array.isArray(resource) ? resource : [resource];
}

/** Routes where the client states new scopes (as opposed to narrowing an existing grant). */
function isScopeRequest(ctx: Ctx): boolean {
  const route = ctx.oidc.route;
  if (route === 'authorization' || route === 'pushed_authorization_request') return true;
  return route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials';
}

const checked = new WeakSet<object>();

/** Validates every requested non-OIDC scope once per request; OIDC scopes are checked by the provider against `client.scope`. */
function checkRequestedScopes(ctx: Ctx, client: Client, snapshot: ResourceSnapshot): void {
  if (checked.has(ctx) || !isScopeRequest(ctx)) return;
  checked.add(ctx);
  const allowed = allowedResourceScopes(client);
  const resources = requestedResources(ctx);
  for (const scope of requestedScopes(ctx)) {
    if (oidcScopes.has(scope)) continue;
    const owner = snapshot.ownerOf(scope);
    if (!owner) throw new errors.InvalidScope('requested scope is not defined by any resource server', scope);
    if (!allowed.get(owner.id)?.has(scope)) throw new errors.InvalidScope('requested scope is not allowed for this client', scope);
    if (resources && !resources.includes(owner.id)) {
      throw new errors.InvalidScope(`scope ${scope} belongs to a resource that was not requested (${owner.id})`, scope);
    }
  }
}

function resourceServerInfo(resource: ResourceServer, allowed: Set<string>) {
  return {
    // Only the scopes this client may have; oidc-provider intersects the request with this.
    scope: resource.scopes.map((s) => s.scope).filter((s) => allowed.has(s)).join(' '),
    audience: resource.id,
    accessTokenTTL: resource.accessTokenTtl,
    accessTokenFormat: resource.tokenFormat,
    ...(resource.tokenFormat === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
  };
}

export function createResourceIndicatorHooks(catalog: ResourceCatalog) {
  return {
    enabled: true,

    /**
     * Without a `resource` parameter: at the authorization endpoint (and client_credentials)
     * the resources owning the requested scopes; at the token endpoint, among the granted
     * resources (`oneOf`), the one the requested scopes point at.
     */
    async defaultResource(ctx: Ctx, client: Client, oneOf?: string[]) {
      const snapshot = await catalog.current();
      if (oneOf) {
        if (oneOf.length === 1) return oneOf[0];
        const owners = new Set(requestedScopes(ctx).map((s) => snapshot.ownerOf(s)?.id).filter(Boolean));
        const matching = oneOf.filter((r) => owners.has(r));
        return matching.length === 1 ? matching[0] : oneOf;
      }
      checkRequestedScopes(ctx, client, snapshot);
      const owners = [...new Set(requestedScopes(ctx).map((s) => snapshot.ownerOf(s)?.id).filter((id): id is string => !!id))];
      if (owners.length === 0) return undefined;
      return owners.length === 1 ? owners[0] : owners;
    },

    async getResourceServerInfo(ctx: Ctx, indicator: string, client: Client) {
      const snapshot = await catalog.current();
      const resource = snapshot.get(indicator);
      if (!resource) throw new errors.InvalidTarget('unknown resource indicator');
      const allowed = allowedResourceScopes(client).get(indicator);
      if (!allowed || allowed.size === 0) throw new errors.InvalidTarget('this client is not allowed to request tokens for this resource');
      checkRequestedScopes(ctx, client, snapshot);
      return resourceServerInfo(resource, allowed);
    },

    // A token request without `resource` targets what was granted, not the userinfo endpoint.
    async useGrantedResource() {
      return true;
    },
  };
}

/**
 * Synchronous validator for the `resource_scopes` client metadata (oidc-provider requires
 * validators to be synchronous, hence the in-memory snapshot).
 */
export function validateResourceScopesMetadata(snapshot: ResourceSnapshot, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return 'resource_scopes must be an object mapping resource identifiers to space-separated scopes';
  }
  for (const [resource, scopes] of Object.entries(value as Record<string, unknown>)) {
    const server = snapshot.get(resource);
    if (!server) return `resource_scopes names an unknown resource: ${resource}`;
    if (typeof scopes !== 'string' || scopes.trim() === '') return `resource_scopes["${resource}"] must be a non-empty string of scopes`;
    const defined = new Set(server.scopes.map((s) => s.scope));
    const unknown = scopes.split(' ').filter(Boolean).find((s) => !defined.has(s));
    if (unknown) return `scope ${unknown} is not defined by ${resource}`;
  }
  return undefined;
}
