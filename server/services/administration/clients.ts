// OAuth clients, as an operator sees them: list, look up, create (admin clients included),
// verify, remove. A secret is shown once, in the creation's answer, and stored only sealed.
import type { ClientRecord } from '../../../adapters/client-store.ts';
import { ServiceError } from '../errors.ts';
import { iso, type Actor, type Services } from './context.ts';
import type { Client, ClientChanges, CreatedClient, Input, NewClient, Output } from './schemas.ts';

export function clientView(record: ClientRecord, adminResources: readonly string[]): Output<typeof Client> {
  const m = record.metadata as Record<string, unknown> & {
    client_name?: string;
    grant_types?: string[];
    redirect_uris?: string[];
    scope?: string;
    resource_scopes?: Record<string, string>;
    dpop_bound_access_tokens?: boolean;
    require_pushed_authorization_requests?: boolean;
  };
  return {
    client_id: record.clientId,
    ...(m.client_name === undefined ? {} : { client_name: m.client_name }),
    kind: record.kind,
    source: record.source,
    verified: record.verified,
    confidential: record.hasSecret,
    admin: Object.keys(m.resource_scopes ?? {}).some((id) => adminResources.includes(id)),
    ...(m.grant_types === undefined ? {} : { grant_types: m.grant_types }),
    ...(m.redirect_uris === undefined ? {} : { redirect_uris: m.redirect_uris }),
    ...(m.scope === undefined ? {} : { scope: m.scope }),
    ...(m.resource_scopes === undefined ? {} : { resource_scopes: m.resource_scopes }),
    ...(m.dpop_bound_access_tokens ? { dpop_bound_access_tokens: true } : {}),
    ...(m.require_pushed_authorization_requests ? { require_pushed_authorization_requests: true } : {}),
    created_at: iso(record.createdAt),
  };
}

export function clientOperations({ store, clientAdmin, catalog, record }: Services) {
  const adminResources = async () => (await catalog.current()).all.filter((r) => r.builtIn).map((r) => r.id);

  async function get(clientId: string): Promise<Output<typeof Client>> {
    const client = await store.get(clientId);
    if (!client) throw new ServiceError(`no client ${clientId}`, 'not_found');
    return clientView(client, await adminResources());
  }

  return {
    get,

    async list(query: { limit: number; after?: string | undefined }): Promise<{ clients: Array<Output<typeof Client>>; next_cursor: string | null }> {
      const [page, admin] = await Promise.all([store.page(query), adminResources()]);
      return { clients: page.map((c) => clientView(c, admin)), next_cursor: page.length === query.limit ? (page.at(-1)?.clientId ?? null) : null };
    },

    async add(input: Input<typeof NewClient>, actor: Actor): Promise<Output<typeof CreatedClient>> {
      const created = await clientAdmin.add({
        name: input.client_name,
        redirectUris: input.redirect_uris,
        public: input.public,
        native: input.native,
        scope: input.scope,
        resources: input.resources,
        grantTypes: input.grant_types,
        logoUri: input.logo_uri,
        clientUri: input.client_uri,
        policyUri: input.policy_uri,
        tosUri: input.tos_uri,
        admin: input.admin,
        dpopBound: input.dpop_bound_access_tokens,
        requirePar: input.require_pushed_authorization_requests,
        source: actor.via === 'cli' ? 'cli' : 'admin_api',
      });
      await record(actor, { event: 'client.created', clientId: created.clientId, details: { admin: input.admin === true } });
      return {
        ...(created.metadata as Output<typeof CreatedClient>),
        client_id: created.clientId,
        ...(created.clientSecret ? { client_secret: created.clientSecret } : {}),
      };
    },

    async update(clientId: string, changes: Input<typeof ClientChanges>, actor: Actor): Promise<Output<typeof Client>> {
      if (!(await store.setVerified(clientId, changes.verified))) throw new ServiceError(`no client ${clientId}`, 'not_found');
      await record(actor, { event: changes.verified ? 'client.verified' : 'client.unverified', clientId });
      return get(clientId);
    },

    /** Removes the client and everything issued to it. */
    async remove(clientId: string, actor: Actor): Promise<void> {
      if (!(await clientAdmin.remove(clientId))) throw new ServiceError(`no client ${clientId}`, 'not_found');
      await record(actor, { event: 'client.removed', clientId });
    },
  };
}
