// The scope and resource model, applied through oidc-provider's resource indicator hooks.
//
// Rules (refuse, never silently grant or silently drop):
// - A scope is either an OpenID Connect scope (openid, profile, email, offline_access) or is
//   defined by a resource server; anything else is `invalid_scope`. A name is unique within a
//   resource server; when several define it, it means the one the client may use, and when the
//   client may use several the request must name which (`resource`), otherwise `invalid_target`.
// - A client may request only the resources and scopes on its allow-list (`resource_scopes`
//   metadata, plus the standard `scope` metadata for OIDC scopes); anything else is
//   `invalid_scope` / `invalid_target` (RFC 6749 §3.3, RFC 8707 §2).
// - A request without `resource` is bound to the resource servers its scopes belong to, so
//   clients that do not implement RFC 8707 still get audience-bound tokens.
// - Every access token has exactly one audience: the resource identifier (RFC 9068 §3).
// - Self-registered clients (RFC 7591, ids `dyn_…`) and metadata-document clients (an https URL
//   as client_id) are not vouched for by anyone: they may ask for the scopes of the resource
//   servers that opted in (`--dynamic-clients`), whatever scope they registered (MCP clients
//   register with their first challenge's scope and step up later); the user decides on the
//   consent page. With DYNAMIC_REGISTRATION=token, a client registered with an initial access
//   token also keeps the `resource_scopes` it registered.
// - A request that names a resource server but none of its scopes gets its default scope.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ResourceCatalog, ResourceServer, ResourceSnapshot } from '../services/resources.ts';
import { OIDC_SCOPES } from '../services/resources.ts';
import { requestedDetails } from './requested-details.ts';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;
type Ctx = KoaContextWithOIDC;

const oidcScopes = new Set<string>(OIDC_SCOPES);

/** Ids given by our registration endpoint (configuration.ts idFactory); the CLI refuses them. */
export const SELF_REGISTERED_PREFIX = 'dyn_';

/** A client nobody vouched for: self-registered, or identified by its metadata document's URL. */
export function isDynamicClient(client: { clientId: string }): boolean {
  return client.clientId.startsWith(SELF_REGISTERED_PREFIX) || isMetadataDocumentClient(client);
}

export function isMetadataDocumentClient(client: { clientId: string }): boolean {
  return /^https:\/\//i.test(client.clientId) || (client as { clientIdMetadataDocument?: unknown }).clientIdMetadataDocument === true;
}

export interface ScopePolicy {
  /** DYNAMIC_REGISTRATION=token: self-registered clients keep the resource_scopes they registered. */
  honourRegisteredResourceScopes: boolean;
}

function registeredResourceScopes(client: Client): Map<string, Set<string>> {
  const raw = (client as unknown as { resource_scopes?: unknown }).resource_scopes;
  const allowed = new Map<string, Set<string>>();
  if (raw && typeof raw === 'object') {
    for (const [resource, scopes] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof scopes === 'string') allowed.set(resource, new Set(scopes.split(' ').filter(Boolean)));
    }
  }
  return allowed;
}

/**
 * The last answer per client instance, for the same snapshot and policy: a token request asks
 * twice (scope check, resource info), and client instances live as long as their cached
 * metadata (internals/client-instances.ts), so most requests parse nothing. An instance's
 * metadata never changes (changed metadata is a new instance); a new snapshot recomputes.
 */
const allowedMemo = new WeakMap<Client, { snapshot: ResourceSnapshot; policy: ScopePolicy; allowed: ReadonlyMap<string, ReadonlySet<string>> }>();

/** Per resource indicator, the scopes this client may ask for. */
export function allowedResourceScopes(client: Client, snapshot: ResourceSnapshot, policy: ScopePolicy): ReadonlyMap<string, ReadonlySet<string>> {
  const memo = allowedMemo.get(client);
  if (memo && memo.snapshot === snapshot && memo.policy === policy) return memo.allowed;
  const allowed = computeAllowedResourceScopes(client, snapshot, policy);
  allowedMemo.set(client, { snapshot, policy, allowed });
  return allowed;
}

function computeAllowedResourceScopes(client: Client, snapshot: ResourceSnapshot, policy: ScopePolicy): Map<string, Set<string>> {
  if (!isDynamicClient(client)) return registeredResourceScopes(client);
  const allowed = new Map<string, Set<string>>();
  for (const resource of snapshot.all) {
    if (resource.dynamicClients) allowed.set(resource.id, new Set(resource.scopes.map((s) => s.scope)));
  }
  if (policy.honourRegisteredResourceScopes && !isMetadataDocumentClient(client)) {
    for (const [indicator, scopes] of registeredResourceScopes(client)) {
      // The admin API is for clients an operator made, whatever a registration claimed.
      if (snapshot.get(indicator)?.builtIn) continue;
      allowed.set(indicator, new Set([...(allowed.get(indicator) ?? []), ...scopes]));
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

function requestedDetailTypes(ctx: Ctx): string[] {
  return (requestedDetails(ctx) ?? []).map((d) => (d as { type?: unknown } | null)?.type).filter((t): t is string => typeof t === 'string');
}

/** Routes where the client states new scopes (as opposed to narrowing an existing grant). */
function isScopeRequest(ctx: Ctx): boolean {
  const route = ctx.oidc.route;
  if (route === 'authorization' || route === 'pushed_authorization_request') return true;
  return route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials';
}

const checked = new WeakSet<object>();

/** Validates every requested non-OIDC scope once per request; OIDC scopes are checked by the provider against `client.scope`. */
function checkRequestedScopes(ctx: Ctx, client: Client, snapshot: ResourceSnapshot, policy: ScopePolicy): void {
  if (checked.has(ctx) || !isScopeRequest(ctx)) return;
  checked.add(ctx);
  const allowed = allowedResourceScopes(client, snapshot, policy);
  const resources = requestedResources(ctx);
  for (const scope of requestedScopes(ctx)) {
    if (oidcScopes.has(scope)) continue;
    const owners = snapshot.ownersOf(scope);
    if (owners.length === 0) throw new errors.InvalidScope('requested scope is not defined by any resource server', scope);
    const targets = resources ? owners.filter((owner) => resources.includes(owner.id)) : owners;
    if (targets.length === 0) {
      throw new errors.InvalidScope(`scope ${scope} belongs to a resource that was not requested (${owners.map((o) => o.id).join(', ')})`, scope);
    }
    if (!targets.some((owner) => allowed.get(owner.id)?.has(scope))) throw new errors.InvalidScope('requested scope is not allowed for this client', scope);
  }
}

/**
 * The resource servers the requested scopes point at. A name several resource servers define
 * points at the one this client may use; if it may use several, the request must name one.
 */
function ownersOfRequested(ctx: Ctx, client: Client, snapshot: ResourceSnapshot, policy: ScopePolicy): string[] {
  const owners = new Set<string>();
  const allowed = allowedResourceScopes(client, snapshot, policy);
  for (const scope of requestedScopes(ctx)) {
    const all = snapshot.ownersOf(scope);
    const usable = all.filter((owner) => allowed.get(owner.id)?.has(scope));
    const defined = usable.length > 0 ? usable : all;
    if (defined.length > 1) {
      throw new errors.InvalidTarget(`scope ${scope} is defined by several resource servers (${defined.map((o) => o.id).join(', ')}): name the one you want with the resource parameter (RFC 8707)`);
    }
    if (defined[0]) owners.add(defined[0].id);
  }
  // RFC 9396: a detail's type names its API (each type belongs to one resource server).
  for (const type of requestedDetailTypes(ctx)) {
    const owner = snapshot.detailType(type)?.resource;
    if (owner && allowed.has(owner.id)) owners.add(owner.id);
  }
  return [...owners];
}

export function resourceServerInfo(resource: ResourceServer, allowed: ReadonlySet<string>) {
  return {
    // Only the scopes this client may have; oidc-provider intersects the request with this.
    scope: resource.scopes.map((s) => s.scope).filter((s) => allowed.has(s)).join(' '),
    audience: resource.id,
    accessTokenTTL: resource.accessTokenTtl,
    accessTokenFormat: resource.tokenFormat,
    ...(resource.tokenFormat === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
  };
}

/**
 * A request that names `resource` (RFC 8707) but asks for none of its scopes gets the resource
 * server's default scope, as if it had asked for it (so consent shows it and the token has it).
 */
function applyDefaultScope(ctx: Ctx, resource: ResourceServer): void {
  if (!isScopeRequest(ctx) || resource.defaultScope.length === 0) return;
  if (!requestedResources(ctx)?.includes(resource.id)) return;
  const requested = requestedScopes(ctx);
  const own = new Set(resource.scopes.map((s) => s.scope));
  if (requested.some((s) => own.has(s))) return;
  ctx.oidc.params!.scope = [...requested, ...resource.defaultScope].join(' ');
}

export function createResourceIndicatorHooks(catalog: ResourceCatalog, policy: ScopePolicy) {
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
        const owners = new Set(requestedScopes(ctx).flatMap((s) => snapshot.ownersOf(s).map((o) => o.id)));
        const matching = oneOf.filter((r) => owners.has(r));
        return matching.length === 1 ? matching[0] : oneOf;
      }
      checkRequestedScopes(ctx, client, snapshot, policy);
      const owners = ownersOfRequested(ctx, client, snapshot, policy);
      if (owners.length === 0) return undefined;
      return owners.length === 1 ? owners[0] : owners;
    },

    async getResourceServerInfo(ctx: Ctx, indicator: string, client: Client) {
      const snapshot = await catalog.current();
      const resource = snapshot.get(indicator);
      if (!resource) throw new errors.InvalidTarget('unknown resource indicator');
      const allowed = allowedResourceScopes(client, snapshot, policy).get(indicator);
      if (!allowed || allowed.size === 0) throw new errors.InvalidTarget('this client is not allowed to request tokens for this resource');
      applyDefaultScope(ctx, resource);
      checkRequestedScopes(ctx, client, snapshot, policy);
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
