// Resource servers (the APIs tokens are for) and the scopes each one defines. A scope name is
// unique within its resource server; two may define the same name (a request using it then
// names its API with RFC 8707 `resource`).
//
// Each resource server is also an OAuth client of kind `resource_server`: it authenticates with
// those credentials to call introspection, and learns only about tokens whose audience it is.
import type { Knex } from 'knex';
import { isStorableText } from '../../adapters/storable-text.ts';
import { ServiceError } from './errors.ts';
import { loadDetailTypes, type AuthorizationDetailType } from './authorization-detail-types.ts';

export type TokenFormat = 'opaque' | 'jwt';

export interface ScopeDefinition {
  scope: string;
  description: string;
}

export interface ResourceServer {
  /** The resource indicator (RFC 8707): an absolute URI without fragment; the tokens' `aud`. */
  id: string;
  name: string;
  tokenFormat: TokenFormat;
  accessTokenTtl: number;
  introspectionClientId: string | null;
  /** The longest a user may grant access to this API (s), or null for the server's cap. */
  maxGrantDuration: number | null;
  /**
   * Self-registered and metadata-document clients (MCP agents) may ask for this API's scopes;
   * the user decides on the consent page. Otherwise such a client gets invalid_target.
   */
  dynamicClients: boolean;
  /** What a request that names this API (RFC 8707) but none of its scopes gets. */
  defaultScope: string[];
  /**
   * The APIs this one may call for the user by exchanging a token it received (RFC 8693):
   * `latchkey resource add|update … --may-exchange-for DOWNSTREAM`.
   */
  mayExchangeFor?: string[];
  /**
   * How long an API may keep this resource server's status list (s), the `ttl` of the list its
   * JWT access tokens point into (services/status-lists.ts); undefined: the default, 30 s.
   */
  statusListTtl?: number | undefined;
  /**
   * Scopes a token carries only for a user who signed in with a passkey (step-up, issue 19):
   * `latchkey resource add|update … --require-passkey-for SCOPES` (oidc/passkey-policy.ts).
   */
  requirePasskeyFor?: string[];
  /** Part of the server itself (the admin API): not stored, not editable, never for self-registered clients. */
  builtIn?: boolean;
  scopes: ScopeDefinition[];
  /** RFC 9396 authorization-detail types this API declares (authorization-detail-types.ts). */
  authorizationDetailTypes?: AuthorizationDetailType[];
}

export class ResourceError extends ServiceError {
  override name = 'ResourceError';
}

// RFC 6749 §3.3 scope-token characters, minus the space; kept short for the consent page.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
/** Scopes oidc-provider treats as OpenID Connect scopes; resource servers may not redefine them. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const;

export function validateResourceIdentifier(id: string): string {
  // The URL parser drops leading and trailing control characters and spaces; the identifier is
  // compared byte for byte, so it must not have any (nor anything the database cannot store).
  const url = URL.parse(id);
  if (!url || id.includes('#') || !isStorableText(id) || /[\s\p{Cc}]/u.test(id)) {
    throw new ResourceError(`a resource identifier must be an absolute URI without a fragment (RFC 8707 §2), got ${JSON.stringify(id)}`, 'invalid', 'id');
  }
  if (id.length > 255) throw new ResourceError('a resource identifier may have at most 255 characters', 'invalid', 'id');
  return id;
}

export function validateScopeToken(scope: string): string {
  if (!SCOPE_TOKEN.test(scope)) throw new ResourceError(`invalid scope ${JSON.stringify(scope)} (RFC 6749 §3.3)`, 'invalid', 'scopes');
  if ((OIDC_SCOPES as readonly string[]).includes(scope)) {
    throw new ResourceError(`${scope} is an OpenID Connect scope and cannot belong to a resource server`, 'invalid', 'scopes');
  }
  return scope;
}

export interface ResourceRow {
  id: string;
  name: string;
  token_format: TokenFormat;
  access_token_ttl: number;
  introspection_client_id: string | null;
  max_grant_duration: number | null;
  dynamic_clients: boolean | number;
  default_scope: string | null;
  status_list_ttl?: number | null;
}

export async function loadAll(db: Knex): Promise<ResourceServer[]> {
  const [resources, scopes, exchanges, detailTypes] = await Promise.all([
    db<ResourceRow>('resource_servers').orderBy('created_at').orderBy('id'),
    db<{ resource_id: string; scope: string; description: string; requires_passkey?: boolean | number }>('resource_scopes').orderBy('scope'),
    db<{ resource_id: string; target_id: string }>('resource_exchanges').orderBy('target_id'),
    loadDetailTypes(db),
  ]);
  return resources.map((row) => ({
    id: row.id,
    name: row.name,
    tokenFormat: row.token_format,
    accessTokenTtl: Number(row.access_token_ttl),
    introspectionClientId: row.introspection_client_id,
    maxGrantDuration: row.max_grant_duration === null || row.max_grant_duration === undefined ? null : Number(row.max_grant_duration),
    dynamicClients: Boolean(row.dynamic_clients),
    defaultScope: (row.default_scope ?? '').split(' ').filter(Boolean),
    statusListTtl: row.status_list_ttl === null || row.status_list_ttl === undefined ? undefined : Number(row.status_list_ttl),
    scopes: scopes.filter((s) => s.resource_id === row.id).map(({ scope, description }) => ({ scope, description })),
    requirePasskeyFor: scopes.filter((s) => s.resource_id === row.id && Boolean(s.requires_passkey)).map((s) => s.scope),
    mayExchangeFor: exchanges.filter((e) => e.resource_id === row.id).map((e) => e.target_id),
    authorizationDetailTypes: detailTypes.get(row.id) ?? [],
  }));
}

/** An immutable view of all resource servers, indexed for the lookups the provider needs. */
export class ResourceSnapshot {
  readonly #byId: Map<string, ResourceServer>;
  readonly #byScope: Map<string, ResourceServer[]>;
  readonly #byIntrospectionClient: Map<string, ResourceServer>;

  constructor(readonly all: readonly ResourceServer[]) {
    this.#byId = new Map(all.map((r) => [r.id, r]));
    this.#byScope = new Map();
    for (const resource of all) for (const { scope } of resource.scopes) this.#byScope.set(scope, [...(this.#byScope.get(scope) ?? []), resource]);
    this.#byIntrospectionClient = new Map(
      all.filter((r) => r.introspectionClientId).map((r) => [r.introspectionClientId as string, r]),
    );
  }

  get(id: string): ResourceServer | undefined {
    return this.#byId.get(id);
  }

  /** Every resource server that defines this scope name (a name is unique within one of them). */
  ownersOf(scope: string): readonly ResourceServer[] {
    return this.#byScope.get(scope) ?? [];
  }

  /** The one resource server defining this scope name, when exactly one does. */
  ownerOf(scope: string): ResourceServer | undefined {
    const owners = this.ownersOf(scope);
    return owners.length === 1 ? owners[0] : undefined;
  }

  /** The scope's plain words, as `resource` (or its only owner) describes it. */
  describe(scope: string, resource?: string): string | undefined {
    const owner = resource === undefined ? this.ownerOf(scope) : this.get(resource);
    return owner?.scopes.find((s) => s.scope === scope)?.description;
  }

  /** The resource server declaring an authorization-detail type (RFC 9396), and its declaration. */
  detailType(type: string): { resource: ResourceServer; definition: AuthorizationDetailType } | undefined {
    for (const resource of this.all) {
      const definition = resource.authorizationDetailTypes?.find((t) => t.type === type);
      if (definition) return { resource, definition };
    }
    return undefined;
  }

  forIntrospectionClient(clientId: string): ResourceServer | undefined {
    return this.#byIntrospectionClient.get(clientId);
  }
}

/**
 * Resource servers change rarely and are read on every token request, so they are held in
 * memory. Changes made elsewhere (the CLI, another instance) are picked up within `maxAgeMs`;
 * changes made through this process's catalog are visible at once.
 */
export class ResourceCatalog {
  #snapshot = new ResourceSnapshot([]);
  #loadedAt = -Infinity;
  #loading: Promise<ResourceSnapshot> | undefined;

  constructor(
    private readonly db: Knex,
    private readonly maxAgeMs = 1000,
    /** Resource servers of the server itself (the admin API), listed after the stored ones. */
    private readonly builtIn: readonly ResourceServer[] = [],
  ) {}

  /** The last loaded snapshot, without I/O (for synchronous hooks such as metadata validators). */
  get snapshot(): ResourceSnapshot {
    return this.#snapshot;
  }

  async current(): Promise<ResourceSnapshot> {
    if (performance.now() - this.#loadedAt < this.maxAgeMs) return this.#snapshot;
    return this.reload();
  }

  /** A snapshot that knows every one of `ids` if the database does (reloads on a miss). */
  async covering(ids: string[]): Promise<ResourceSnapshot> {
    const snapshot = await this.current();
    return ids.every((id) => snapshot.get(id)) ? snapshot : this.reload();
  }

  async reload(): Promise<ResourceSnapshot> {
    this.#loading ??= loadAll(this.db)
      .then((all) => {
        this.#snapshot = new ResourceSnapshot([...all, ...this.builtIn]);
        this.#loadedAt = performance.now();
        return this.#snapshot;
      })
      .finally(() => {
        this.#loading = undefined;
      });
    return this.#loading;
  }
}
