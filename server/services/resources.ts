// Resource servers (the APIs tokens are for) and the scopes each one defines. A scope name is
// unique within its resource server; two may define the same name (a request using it then
// names its API with RFC 8707 `resource`).
//
// Each resource server is also an OAuth client of kind `resource_server`: it authenticates with
// those credentials to call introspection, and learns only about tokens whose audience it is.
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { ClientStore } from '../../adapters/client-store.ts';
import { isStorableText } from '../../adapters/storable-text.ts';
import { isUniqueViolation } from '../../adapters/rows.ts';
import { ServiceError } from './errors.ts';

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
  /** Part of the server itself (the admin API): not stored, not editable, never for self-registered clients. */
  builtIn?: boolean;
  scopes: ScopeDefinition[];
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

/** Words shown to users: trimmed, storable, without control characters. */
function plainText(value: string, what: string, max: number, field: string): string {
  const text = value.trim();
  if (!isStorableText(text) || /\p{Cc}/u.test(text)) throw new ResourceError(`${what} must be plain text without control characters`, 'invalid', field);
  if (text.length > max) throw new ResourceError(`${what} may have at most ${max} characters`, 'invalid', field);
  return text;
}

export function validateScopeToken(scope: string): string {
  if (!SCOPE_TOKEN.test(scope)) throw new ResourceError(`invalid scope ${JSON.stringify(scope)} (RFC 6749 §3.3)`, 'invalid', 'scopes');
  if ((OIDC_SCOPES as readonly string[]).includes(scope)) {
    throw new ResourceError(`${scope} is an OpenID Connect scope and cannot belong to a resource server`, 'invalid', 'scopes');
  }
  return scope;
}

interface ResourceRow {
  id: string;
  name: string;
  token_format: TokenFormat;
  access_token_ttl: number;
  introspection_client_id: string | null;
  max_grant_duration: number | null;
  dynamic_clients: boolean | number;
  default_scope: string | null;
}

async function loadAll(db: Knex): Promise<ResourceServer[]> {
  const [resources, scopes] = await Promise.all([
    db<ResourceRow>('resource_servers').orderBy('created_at').orderBy('id'),
    db<{ resource_id: string; scope: string; description: string }>('resource_scopes').orderBy('scope'),
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
    scopes: scopes.filter((s) => s.resource_id === row.id).map(({ scope, description }) => ({ scope, description })),
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

export interface NewResourceServer {
  id: string;
  name?: string | undefined;
  scopes: ScopeDefinition[];
  tokenFormat?: TokenFormat | undefined;
  accessTokenTtl?: number | undefined;
  /** Defaults to a generated `rs_...` id. */
  introspectionClientId?: string | undefined;
  maxGrantDuration?: number | undefined;
  dynamicClients?: boolean | undefined;
  defaultScope?: string[] | undefined;
}

/** What `resource update` may change. */
export interface ResourceChanges {
  dynamicClients?: boolean | undefined;
  defaultScope?: string[] | undefined;
}

function checkDefaultScope(defaultScope: string[], scopes: readonly string[]): string | null {
  const unknown = defaultScope.find((s) => !scopes.includes(s));
  if (unknown) throw new ResourceError(`the default scope ${unknown} is not one of this resource server's scopes`, 'invalid', 'default_scope');
  return defaultScope.length ? [...new Set(defaultScope)].join(' ') : null;
}

export interface CreatedResourceServer {
  resource: ResourceServer;
  /** Shown once: the resource server's credentials for the introspection endpoint. */
  clientId: string;
  clientSecret: string;
}

export function createResourceAdmin(
  db: Knex,
  clients: ClientStore,
  defaults: { accessTokenTtl: number; /** Identifiers the server uses itself (the admin API). */ reservedIds?: readonly string[] },
) {
  return {
    list: () => loadAll(db),

    async add(input: NewResourceServer): Promise<CreatedResourceServer> {
      const id = validateResourceIdentifier(input.id);
      if (defaults.reservedIds?.includes(id)) throw new ResourceError(`${id} is this server's own admin API`, 'conflict', 'id');
      if (input.scopes.length === 0) throw new ResourceError('a resource server needs at least one scope', 'invalid', 'scopes');
      const scopes = input.scopes.map((s) => ({ scope: validateScopeToken(s.scope), description: plainText(s.description, 'a scope description', 500, 'scopes') }));
      const duplicate = scopes.find((s, i) => scopes.findIndex((t) => t.scope === s.scope) !== i);
      if (duplicate) throw new ResourceError(`scope ${duplicate.scope} is listed twice`, 'invalid', 'scopes');
      const tokenFormat = input.tokenFormat ?? 'opaque';
      if (tokenFormat !== 'opaque' && tokenFormat !== 'jwt') throw new ResourceError('the token format must be opaque or jwt', 'invalid', 'token_format');
      const accessTokenTtl = input.accessTokenTtl ?? defaults.accessTokenTtl;
      if (!Number.isInteger(accessTokenTtl) || accessTokenTtl < 10 || accessTokenTtl > 86400) {
        throw new ResourceError('the access token lifetime must be between 10 and 86400 seconds', 'invalid', 'access_token_ttl');
      }
      const name = (input.name === undefined ? '' : plainText(input.name, 'a resource server name', 200, 'name')) || new URL(id).host || id;
      if (input.maxGrantDuration !== undefined && (!Number.isInteger(input.maxGrantDuration) || input.maxGrantDuration < 60)) {
        throw new ResourceError('the maximum grant duration must be at least 60 seconds', 'invalid', 'max_grant_duration');
      }

      const defaultScope = checkDefaultScope(input.defaultScope ?? [], scopes.map((s) => s.scope));
      const clientId = input.introspectionClientId ?? `rs_${crypto.randomBytes(12).toString('base64url')}`;
      const clientSecret = crypto.randomBytes(32).toString('base64url');

      await db
        .transaction(async (trx) => {
          if (await trx('resource_servers').where({ id }).first()) {
            throw new ResourceError(`resource server ${id} already exists`, 'conflict', 'id');
          }
          if (await trx('clients').where({ client_id: clientId }).first()) {
            throw new ResourceError(`client id ${clientId} is already taken`, 'conflict');
          }
          await clients.insert(
            {
              metadata: {
                client_id: clientId,
                client_secret: clientSecret,
                client_name: `${name} (resource server)`,
                // A resource server only calls introspection and revocation: no flows of its own.
                grant_types: [],
                response_types: [],
                redirect_uris: [],
                token_endpoint_auth_method: 'client_secret_basic',
              },
              kind: 'resource_server',
              source: 'cli',
              verified: true,
            },
            trx,
          );
          await trx('resource_servers').insert({
            id,
            name,
            token_format: tokenFormat,
            access_token_ttl: accessTokenTtl,
            introspection_client_id: clientId,
            max_grant_duration: input.maxGrantDuration ?? null,
            dynamic_clients: input.dynamicClients === true,
            default_scope: defaultScope,
            created_at: Date.now(),
          });
          await trx('resource_scopes').insert(scopes.map((s) => ({ resource_id: id, ...s })));
        })
        .catch((error: unknown) => {
          // Two creations of one resource server at once: the second finds the first's row.
          if (isUniqueViolation(error)) throw new ResourceError(`resource server ${id} already exists`, 'conflict', 'id');
          throw error;
        });

      const resource = (await loadAll(db)).find((r) => r.id === id) as ResourceServer;
      return { resource, clientId, clientSecret };
    },

    /** Changes a resource server's policy; returns it as it is now, or undefined when there is none. */
    async update(id: string, changes: ResourceChanges): Promise<ResourceServer | undefined> {
      if (!isStorableText(id)) return undefined;
      const current = (await loadAll(db)).find((r) => r.id === id);
      if (!current) return undefined;
      const row: Partial<ResourceRow> = {};
      if (changes.dynamicClients !== undefined) row.dynamic_clients = changes.dynamicClients;
      if (changes.defaultScope !== undefined) row.default_scope = checkDefaultScope(changes.defaultScope, current.scopes.map((s) => s.scope));
      if (Object.keys(row).length) await db('resource_servers').where({ id }).update(row);
      return (await loadAll(db)).find((r) => r.id === id);
    },

    async remove(id: string): Promise<boolean> {
      if (!isStorableText(id)) return false;
      const row = await db<ResourceRow>('resource_servers').where({ id }).first();
      if (!row) return false;
      await db('resource_servers').where({ id }).delete();
      if (row.introspection_client_id) await clients.remove(row.introspection_client_id);
      return true;
    },
  };
}

export type ResourceAdmin = ReturnType<typeof createResourceAdmin>;
