// Operator-side client management (CLI and seeds): turns a short description of an app into
// validated RFC 7591 metadata, including the app's allow-list of resources and scopes.
import crypto from 'node:crypto';
import type { ClientRecord, ClientSource, ClientStore } from '../../adapters/client-store.ts';
import { OIDC_SCOPES, type ResourceSnapshot } from './resources.ts';
import { ADMIN_READ_SCOPE, ADMIN_SCOPE } from './admin-resource.ts';
import { ServiceError } from './errors.ts';

export class ClientError extends ServiceError {
  override name = 'ClientError';
}

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export interface NewAppClient {
  name: string;
  redirectUris?: string[] | undefined;
  public?: boolean | undefined;
  native?: boolean | undefined;
  /** Space-separated allowed scopes: OpenID Connect scopes and resource scopes, mixed. */
  scope?: string | undefined;
  /** Resource identifiers the client may get tokens for. */
  resources?: string[] | undefined;
  grantTypes?: GrantType[] | undefined;
  logoUri?: string | undefined;
  clientUri?: string | undefined;
  policyUri?: string | undefined;
  tosUri?: string | undefined;
  clientId?: string | undefined;
  source?: ClientSource | undefined;
  /**
   * A client of the admin API: client credentials only, tokens for the built-in admin resource
   * (scope `latchkey:admin` and `latchkey:admin.read`, or the one `scope` names).
   */
  admin?: boolean | undefined;
  /** `dpop_bound_access_tokens` (RFC 9449 §5.2): token requests without a DPoP proof are refused. */
  dpopBound?: boolean | undefined;
  /** `require_pushed_authorization_requests` (RFC 9126 §6): plain authorization requests are refused. */
  requirePar?: boolean | undefined;
}

export interface CreatedClient {
  clientId: string;
  /** Present for confidential clients; shown once and stored only sealed. */
  clientSecret?: string | undefined;
  metadata: Record<string, unknown>;
}

/** Extra client metadata: `{ [resource identifier]: "space separated scopes" }`. */
export type ResourceScopes = Record<string, string>;

/**
 * Splits an allow-list into OpenID Connect scopes and per-resource scopes.
 * `resources` without any listed scope of theirs allow all of that resource's scopes.
 */
export function resolveAllowList(
  catalog: ResourceSnapshot,
  scope: string | undefined,
  resources: string[],
  { refreshToken }: { refreshToken: boolean },
): { oidcScope: string; resourceScopes: ResourceScopes } {
  for (const id of resources) {
    if (!catalog.get(id)) throw new ClientError(`unknown resource server ${id} (see \`latchkey resource list\`)`, 'invalid', 'resources');
  }
  const requested = scope?.split(/\s+/).filter(Boolean);
  const oidc = new Set<string>();
  const perResource = new Map<string, Set<string>>();

  for (const token of requested ?? []) {
    if ((OIDC_SCOPES as readonly string[]).includes(token)) {
      oidc.add(token);
      continue;
    }
    const owners = catalog.ownersOf(token);
    if (owners.length === 0) throw new ClientError(`unknown scope ${token}: not an OpenID Connect scope nor defined by any resource server`, 'invalid', 'scope');
    // A name several resource servers define is taken to mean the one among --resource.
    const named = owners.filter((o) => resources.includes(o.id));
    const owner = owners.length === 1 ? owners[0] : named.length === 1 ? named[0] : undefined;
    if (!owner) throw new ClientError(`scope ${token} is defined by ${owners.map((o) => o.id).join(' and ')}: add --resource for the one you mean`, 'invalid', 'scope');
    if (!perResource.has(owner.id)) perResource.set(owner.id, new Set());
    perResource.get(owner.id)?.add(token);
  }
  if (!requested) {
    for (const s of OIDC_SCOPES) oidc.add(s);
  }
  if (!refreshToken) oidc.delete('offline_access');
  for (const id of resources) {
    if (!perResource.has(id)) perResource.set(id, new Set(catalog.get(id)?.scopes.map((s) => s.scope)));
  }
  return {
    oidcScope: [...oidc].join(' '),
    resourceScopes: Object.fromEntries([...perResource].map(([id, scopes]) => [id, [...scopes].join(' ')])),
  };
}

/** An admin client authenticates with its secret and acts for no user. */
function checkAdminClient(input: NewAppClient): void {
  if (input.public) throw new ClientError('an admin client needs a secret: it cannot be public', 'invalid', 'public');
  if (input.redirectUris?.length) throw new ClientError('an admin client uses client credentials: it has no redirect URIs', 'invalid', 'redirect_uris');
  if (input.grantTypes && input.grantTypes.some((type) => type !== 'client_credentials')) {
    throw new ClientError('an admin client uses the client_credentials grant only', 'invalid', 'grant_types');
  }
  if (input.resources?.length) throw new ClientError('an admin client gets tokens for the admin API only', 'invalid', 'resources');
}

export function createClientAdmin(
  store: ClientStore,
  catalog: () => Promise<ResourceSnapshot>,
  /** The provider's own metadata validation (Client.validate), so the CLI cannot store what the server would refuse. */
  validate: (metadata: Record<string, unknown>) => Promise<void>,
) {
  return {
    async add(input: NewAppClient): Promise<CreatedClient> {
      const name = input.name?.trim();
      if (!name) throw new ClientError('a client needs a name', 'invalid', 'client_name');
      const snapshot = await catalog();
      const builtIn = snapshot.all.filter((r) => r.builtIn).map((r) => r.id);
      if (input.admin) checkAdminClient(input);
      else if (input.resources?.some((id) => builtIn.includes(id))) {
        throw new ClientError('only an admin client (--admin) may get tokens for the admin API', 'invalid', 'resources');
      }
      const grantTypes = [...new Set(input.admin ? ['client_credentials' as const] : (input.grantTypes ?? ['authorization_code', 'refresh_token']))];
      for (const type of grantTypes) {
        if (!(GRANT_TYPES as readonly string[]).includes(type)) {
          throw new ClientError(`unsupported grant type ${type}; choose from ${GRANT_TYPES.join(', ')}`, 'invalid', 'grant_types');
        }
      }
      if (input.public && grantTypes.includes('client_credentials')) {
        throw new ClientError('a public client cannot use client_credentials: it has no secret to authenticate with', 'invalid', 'public');
      }
      const redirectUris = input.redirectUris ?? [];
      if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
        throw new ClientError('the authorization_code grant needs at least one redirect URI', 'invalid', 'redirect_uris');
      }

      const { oidcScope, resourceScopes } = resolveAllowList(
        snapshot,
        input.admin ? (input.scope ?? `${ADMIN_SCOPE} ${ADMIN_READ_SCOPE}`) : input.scope,
        input.admin ? builtIn : (input.resources ?? []),
        { refreshToken: grantTypes.includes('refresh_token') },
      );
      if (input.admin && Object.keys(resourceScopes).some((id) => !builtIn.includes(id))) {
        throw new ClientError(`an admin client's scope is ${ADMIN_SCOPE} and/or ${ADMIN_READ_SCOPE}`, 'invalid', 'scope');
      }

      const clientId = input.clientId ?? `app_${crypto.randomBytes(12).toString('base64url')}`;
      // These forms mean "nobody vouched for it" (scope-policy.ts): self-registered ids and
      // metadata-document URLs are never given to operator-made clients.
      if (clientId.startsWith('dyn_') || /^https?:\/\//i.test(clientId)) throw new ClientError(`client id ${clientId} is reserved for self-registered clients`, 'invalid', 'client_id');
      const clientSecret = input.public ? undefined : crypto.randomBytes(32).toString('base64url');
      const metadata: Record<string, unknown> = {
        client_id: clientId,
        client_name: name,
        application_type: input.native ? 'native' : 'web',
        grant_types: grantTypes,
        response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
        redirect_uris: redirectUris,
        token_endpoint_auth_method: input.public ? 'none' : 'client_secret_basic',
        ...(oidcScope ? { scope: oidcScope } : {}),
        resource_scopes: resourceScopes,
        ...(input.logoUri ? { logo_uri: input.logoUri } : {}),
        ...(input.clientUri ? { client_uri: input.clientUri } : {}),
        ...(input.policyUri ? { policy_uri: input.policyUri } : {}),
        ...(input.tosUri ? { tos_uri: input.tosUri } : {}),
        ...(input.dpopBound ? { dpop_bound_access_tokens: true } : {}),
        ...(input.requirePar ? { require_pushed_authorization_requests: true } : {}),
        ...(clientSecret ? { client_secret: clientSecret } : {}),
      };

      try {
        await validate(metadata);
      } catch (error) {
        const e = error as { error_description?: string; message: string };
        throw new ClientError(`invalid client: ${e.error_description ?? e.message}`, 'invalid');
      }
      if (await store.get(clientId)) throw new ClientError(`client ${clientId} already exists`, 'conflict', 'client_id');
      // Operator-created clients are trusted; only dynamically registered ones start unverified.
      await store.insert({ metadata: metadata as CreatedClient['metadata'] & { client_id: string }, kind: 'app', source: input.source ?? 'cli', verified: true });
      const { client_secret: _secret, ...publicMetadata } = metadata;
      return { clientId, clientSecret, metadata: publicMetadata };
    },

    list: (): Promise<ClientRecord[]> => store.list(),

    async remove(clientId: string): Promise<boolean> {
      const record = await store.get(clientId);
      if (record?.source === 'system') throw new ClientError(`${clientId} is used by the server itself and cannot be removed`);
      if (record?.kind === 'resource_server') {
        throw new ClientError(`${clientId} belongs to a resource server; remove it with \`latchkey resource remove\``);
      }
      return store.remove(clientId);
    },
  };
}

export type ClientAdmin = ReturnType<typeof createClientAdmin>;
