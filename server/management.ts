// The operator's side of the system without any HTTP (the CLI, seeds, tests): the administration
// service layer (server/services/administration) over one database, with an oidc-provider
// instance that validates client metadata by the same configuration the server runs, stores what
// the CLI mints (initial access tokens) and ends what it revokes (grants) through the same adapter
// as the server. No Koa app, no listener.
import type { Knex } from 'knex';
import Provider from 'oidc-provider';
import type { Config } from './config/env.ts';
import { sealerFor, type KeyMaterial, type SigningJwk } from './config/keys.ts';
import { ClientStore } from '../adapters/client-store.ts';
import { createAdapterFactory } from '../adapters/knex-adapter.ts';
import { createAccounts } from './services/accounts.ts';
import { ResourceCatalog } from './services/resources.ts';
import { adminResource } from './services/admin-resource.ts';
import { createAudit } from './services/audit.ts';
import { createGrants } from './services/grants.ts';
import { createStatusLists } from './services/status-lists.ts';
import { StatusListStore } from '../adapters/status-list-store.ts';
import { recallingJwtAccessTokens } from './oidc/status-recall.ts';
import { createAdministration } from './services/administration/index.ts';
import { buildConfiguration } from './oidc/configuration.ts';
import { adapterErrors } from './oidc/provider.ts';
import { createViews } from './http/views.ts';
import type { Logger } from './log.ts';

export function createManagement(
  db: Knex,
  { config, keys, log = console }: { config: Readonly<Config>; keys: KeyMaterial; log?: Pick<Logger, 'error'> },
) {
  const sealer = sealerFor(keys);
  const store = new ClientStore(db, sealer);
  const catalog = new ResourceCatalog(db, 0, [adminResource(config.issuer)]);
  const accounts = createAccounts(db);
  const audit = createAudit(db, log);
  // A grant the CLI revokes recalls its JWT access tokens as the server's revocations do.
  const statusLists = createStatusLists({
    store: new StatusListStore(db),
    catalog,
    issuer: config.issuer,
    signingKey: keys.signing[0] as SigningJwk,
    grantKey: (grantId) => sealer.digest(grantId),
  });
  const provider = new Provider(
    config.issuer,
    buildConfiguration({
      config,
      keys,
      adapter: recallingJwtAccessTokens(createAdapterFactory(db, sealer, store, { errors: adapterErrors, now: Date.now, revokedGrantTtl: config.ttl.grant }), statusLists),
      accounts,
      catalog,
      views: createViews({ cache: false }),
      findEarlierGrantId: async () => undefined,
      isVerifiedClient: async () => false,
    }),
  );
  const grants = createGrants({ db, sealer, provider, audit, statusLists });
  const admin = createAdministration({ db, config, provider, store, catalog, accounts, audit, grants });

  return {
    accounts,
    store,
    catalog,
    audit,
    provider,
    grants,
    admin,
    clients: admin.services.clientAdmin,
    resources: admin.services.resourceAdmin,
    keys: admin.services.keyAdmin,
  };
}

export type Management = ReturnType<typeof createManagement>;
