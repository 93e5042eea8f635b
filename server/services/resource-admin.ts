// Operator-side resource server management (the CLI and the admin API through
// services/administration, and the demo seed): create one with its scopes and its introspection
// credentials, change its policy, remove it.
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { ClientStore } from '../../adapters/client-store.ts';
import { isStorableText } from '../../adapters/storable-text.ts';
import { isUniqueViolation } from '../../adapters/rows.ts';
import { STATUS_LIST_TTL_RANGE } from './status-lists.ts';
import { checkDetailType, putDetailType, type AuthorizationDetailType } from './authorization-detail-types.ts';
import { loadAll, ResourceError, validateResourceIdentifier, validateScopeToken, type ResourceRow, type ResourceServer, type ScopeDefinition, type TokenFormat } from './resources.ts';

/** Words shown to users: trimmed, storable, without control characters. */
function plainText(value: string, what: string, max: number, field: string): string {
  const text = value.trim();
  if (!isStorableText(text) || /\p{Cc}/u.test(text)) throw new ResourceError(`${what} must be plain text without control characters`, 'invalid', field);
  if (text.length > max) throw new ResourceError(`${what} may have at most ${max} characters`, 'invalid', field);
  return text;
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
  mayExchangeFor?: string[] | undefined;
  /** The `ttl` of its status list (s); default DEFAULT_STATUS_LIST_TTL. */
  statusListTtl?: number | undefined;
  /** Scopes of its own a token carries only after a passkey sign-in (oidc/passkey-policy.ts). */
  requirePasskeyFor?: string[] | undefined;
  /** RFC 9396 authorization-detail types it declares (authorization-detail-types.ts). */
  authorizationDetailTypes?: AuthorizationDetailType[] | undefined;
}

/** What `resource update` may change. */
export interface ResourceChanges {
  dynamicClients?: boolean | undefined;
  defaultScope?: string[] | undefined;
  /** Replaces the list (empty: none). */
  mayExchangeFor?: string[] | undefined;
  statusListTtl?: number | undefined;
  /** Replaces the list of scopes that need a passkey sign-in (empty: none). */
  requirePasskeyFor?: string[] | undefined;
  /** Declares detail types, or redeclares ones this resource server owns; the others stay. */
  authorizationDetailTypes?: AuthorizationDetailType[] | undefined;
}

/** How long APIs may keep the status list: how late they may see a recalled JWT access token. */
function checkStatusListTtl(ttl: number): number {
  const { min, max } = STATUS_LIST_TTL_RANGE;
  if (!Number.isInteger(ttl) || ttl < min || ttl > max) throw new ResourceError(`the status list ttl must be between ${min} and ${max} seconds`, 'invalid', 'status_list_ttl');
  return ttl;
}

/** RFC 8693 §2.1. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/**
 * The downstream APIs a resource server may exchange its tokens for: each must exist, be another
 * API, and not be one of the server's own (the admin API).
 */
async function checkExchangeTargets(db: Knex, id: string, targets: string[], reservedIds: readonly string[]): Promise<string[]> {
  const unique = [...new Set(targets)];
  for (const target of unique) {
    if (target === id) throw new ResourceError('a resource server cannot exchange tokens for itself', 'invalid', 'may_exchange_for');
    if (reservedIds.includes(target) || !isStorableText(target) || !(await db('resource_servers').where({ id: target }).first())) {
      throw new ResourceError(`unknown resource server ${target}`, 'invalid', 'may_exchange_for');
    }
  }
  return unique;
}

/** Stores the list, and lets the resource server's credentials use the token-exchange grant only while it has one. */
async function setExchanges(trx: Knex, clients: ClientStore, id: string, clientId: string | null, targets: string[]): Promise<void> {
  await trx('resource_exchanges').where({ resource_id: id }).delete();
  if (targets.length) await trx('resource_exchanges').insert(targets.map((target) => ({ resource_id: id, target_id: target })));
  if (clientId) await clients.setGrantTypes(clientId, targets.length ? [TOKEN_EXCHANGE_GRANT] : [], trx);
}

/** The scopes that need a passkey: each one of the resource server's own. */
function checkPasskeyScopes(requirePasskeyFor: string[], scopes: readonly string[]): string[] {
  const unknown = requirePasskeyFor.find((s) => !scopes.includes(s));
  if (unknown) throw new ResourceError(`--require-passkey-for names ${unknown}, which is not one of this resource server's scopes`, 'invalid', 'require_passkey_for');
  return [...new Set(requirePasskeyFor)];
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
      const passkeyScopes = checkPasskeyScopes(input.requirePasskeyFor ?? [], scopes.map((s) => s.scope));
      const statusListTtl = input.statusListTtl === undefined ? null : checkStatusListTtl(input.statusListTtl);
      const exchanges = await checkExchangeTargets(db, id, input.mayExchangeFor ?? [], defaults.reservedIds ?? []);
      const detailTypes = (input.authorizationDetailTypes ?? []).map(checkDetailType);
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
            status_list_ttl: statusListTtl,
            created_at: Date.now(),
          });
          await trx('resource_scopes').insert(scopes.map((s) => ({ resource_id: id, ...s, requires_passkey: passkeyScopes.includes(s.scope) })));
          if (exchanges.length) await setExchanges(trx, clients, id, clientId, exchanges);
          for (const detailType of detailTypes) await putDetailType(trx, id, detailType);
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
      if (changes.statusListTtl !== undefined) row.status_list_ttl = checkStatusListTtl(changes.statusListTtl);
      const exchanges = changes.mayExchangeFor === undefined ? undefined : await checkExchangeTargets(db, id, changes.mayExchangeFor, defaults.reservedIds ?? []);
      const passkeyScopes = changes.requirePasskeyFor === undefined ? undefined : checkPasskeyScopes(changes.requirePasskeyFor, current.scopes.map((s) => s.scope));
      const detailTypes = (changes.authorizationDetailTypes ?? []).map(checkDetailType);
      await db.transaction(async (trx) => {
        for (const detailType of detailTypes) await putDetailType(trx, id, detailType);
        if (Object.keys(row).length) await trx('resource_servers').where({ id }).update(row);
        if (exchanges) await setExchanges(trx, clients, id, current.introspectionClientId, exchanges);
        if (passkeyScopes) {
          await trx('resource_scopes').where({ resource_id: id }).update({ requires_passkey: false });
          if (passkeyScopes.length) await trx('resource_scopes').where({ resource_id: id }).whereIn('scope', passkeyScopes).update({ requires_passkey: true });
        }
      });
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
