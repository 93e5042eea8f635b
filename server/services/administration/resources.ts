// Resource servers (APIs) and their scopes, as an operator sees them. Creating one also creates
// its introspection credentials, whose secret is shown once.
import type { ResourceServer } from '../resources.ts';
import { ServiceError } from '../errors.ts';
import { DEFAULT_STATUS_LIST_TTL } from '../status-lists.ts';
import { type Actor, type Services } from './context.ts';
import type { CreatedResource, Input, NewResource, Output, Resource, ResourceChanges } from './schemas.ts';

export function resourceView(r: ResourceServer): Output<typeof Resource> {
  return {
    id: r.id,
    name: r.name,
    token_format: r.tokenFormat,
    access_token_ttl: r.accessTokenTtl,
    max_grant_duration: r.maxGrantDuration,
    client_id: r.introspectionClientId,
    dynamic_clients: r.dynamicClients,
    default_scope: r.defaultScope.join(' ') || null,
    may_exchange_for: r.mayExchangeFor ?? [],
    status_list_ttl: r.statusListTtl ?? DEFAULT_STATUS_LIST_TTL,
    scopes: r.scopes,
    require_passkey_for: r.requirePasskeyFor ?? [],
    authorization_detail_types: r.authorizationDetailTypes ?? [],
  };
}

const scopeList = (raw: string | undefined) => (raw === undefined ? undefined : raw.split(/\s+/).filter(Boolean));

export function resourceOperations({ resourceAdmin, catalog, record }: Services) {
  async function get(id: string): Promise<Output<typeof Resource>> {
    const resource = (await resourceAdmin.list()).find((r) => r.id === id);
    if (!resource) throw new ServiceError(`no resource server ${id}`, 'not_found');
    return resourceView(resource);
  }

  return {
    get,

    list: async () => (await resourceAdmin.list()).map(resourceView),

    async add(input: Input<typeof NewResource>, actor: Actor): Promise<Output<typeof CreatedResource>> {
      const label = input.name ?? URL.parse(input.id)?.host ?? input.id;
      const created = await resourceAdmin.add({
        id: input.id,
        name: input.name,
        tokenFormat: input.token_format,
        accessTokenTtl: input.access_token_ttl,
        maxGrantDuration: input.max_grant_duration,
        dynamicClients: input.dynamic_clients,
        defaultScope: scopeList(input.default_scope),
        mayExchangeFor: input.may_exchange_for,
        statusListTtl: input.status_list_ttl,
        authorizationDetailTypes: input.authorization_detail_types,
        requirePasskeyFor: scopeList(input.require_passkey_for),
        scopes: input.scopes.map(({ scope, description }) => ({ scope, description: description ?? `Use ${label} with the "${scope}" permission` })),
      });
      await catalog.reload();
      await record(actor, { event: 'resource.created', clientId: created.clientId, details: { resource: created.resource.id } });
      return { ...resourceView(created.resource), client_id: created.clientId, client_secret: created.clientSecret };
    },

    async update(id: string, changes: Input<typeof ResourceChanges>, actor: Actor): Promise<Output<typeof Resource>> {
      const updated = await resourceAdmin.update(id, { dynamicClients: changes.dynamic_clients, defaultScope: scopeList(changes.default_scope), mayExchangeFor: changes.may_exchange_for, statusListTtl: changes.status_list_ttl, authorizationDetailTypes: changes.authorization_detail_types, requirePasskeyFor: scopeList(changes.require_passkey_for) });
      if (!updated) throw new ServiceError(`no resource server ${id}`, 'not_found');
      await catalog.reload();
      await record(actor, { event: 'resource.updated', details: { resource: id, ...changes } });
      return resourceView(updated);
    },

    async remove(id: string, actor: Actor): Promise<void> {
      if (!(await resourceAdmin.remove(id))) throw new ServiceError(`no resource server ${id}`, 'not_found');
      await catalog.reload();
      await record(actor, { event: 'resource.removed', details: { resource: id } });
    },
  };
}
