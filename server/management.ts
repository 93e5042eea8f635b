// The operator's view of the system (CLI, seeds, tests): accounts, clients, resource servers.
// Client metadata is validated by the same oidc-provider configuration the server runs, so an
// operator cannot store a client the server would refuse.
import type { Knex } from 'knex';
import Provider from 'oidc-provider';
import type { Config } from './config/env.ts';
import { sealerFor, type KeyMaterial } from './config/keys.ts';
import { ClientStore } from '../adapters/client-store.ts';
import { createAccounts } from './services/accounts.ts';
import { createClientAdmin } from './services/clients.ts';
import { createResourceAdmin, ResourceCatalog } from './services/resources.ts';
import { buildConfiguration } from './oidc/configuration.ts';
import { createViews } from './http/views.ts';

function unusedAdapter(): never {
  throw new Error('the validation-only provider has no storage');
}

export function createManagement(db: Knex, { config, keys }: { config: Readonly<Config>; keys: KeyMaterial }) {
  const sealer = sealerFor(keys);
  const store = new ClientStore(db, sealer);
  const catalog = new ResourceCatalog(db, 0);
  const accounts = createAccounts(db);

  let validator: Provider | undefined;
  const validate = async (metadata: Record<string, unknown>) => {
    validator ??= new Provider(
      config.issuer,
      buildConfiguration({
        config,
        keys,
        adapter: unusedAdapter,
        accounts,
        catalog,
        views: createViews({ cache: false }),
        findEarlierGrantId: async () => undefined,
        isVerifiedClient: async () => false,
      }),
    );
    await catalog.reload();
    await validator.Client.validate(metadata as never);
  };

  return {
    accounts,
    store,
    catalog,
    clients: createClientAdmin(store, () => catalog.reload(), validate),
    resources: createResourceAdmin(db, store, { accessTokenTtl: config.ttl.accessToken }),
  };
}

export type Management = ReturnType<typeof createManagement>;
