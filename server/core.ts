// Everything the HTTP app stands on, built from its dependencies: storage (group commit,
// batched reads, prepared statements on SQLite), the services, and the oidc-provider instance
// with our policies installed. No Koa here (app.ts composes the HTTP side).
import type { Knex } from 'knex';
import type Provider from 'oidc-provider';
import type { Adapter } from 'oidc-provider';
import type Router from '@koa/router';
import sqlite3 from 'sqlite3';
import type { Config } from './config/env.ts';
import { sealerFor, type KeyMaterial, type SigningJwk } from './config/keys.ts';
import { ClientStore } from '../adapters/client-store.ts';
import { createAdapterFactory, PayloadAdapter } from '../adapters/knex-adapter.ts';
import { findPayloads } from '../adapters/payload-queries.ts';
import { GroupCommit } from '../adapters/group-commit.ts';
import { PayloadReader } from '../adapters/payload-reader.ts';
import { asOneUnit } from '../adapters/write-unit.ts';
import { SqliteReadConnection, SqliteStatements } from '../adapters/sqlite-statements.ts';
import { StatusListStore } from '../adapters/status-list-store.ts';
import { PasskeyStore } from '../adapters/passkey-store.ts';
import { passkeysPossibleFor } from './services/passkeys.ts';
import { isPostgres } from '../adapters/rows.ts';
import { createAccounts, type Accounts } from './services/accounts.ts';
import { ResourceCatalog } from './services/resources.ts';
import { adminResource } from './services/admin-resource.ts';
import { createAudit, type Audit } from './services/audit.ts';
import { createGrants, type Grants } from './services/grants.ts';
import { createStatusLists, type StatusLists } from './services/status-lists.ts';
import { recallingJwtAccessTokens } from './oidc/status-recall.ts';
import { createAdministration, type Administration } from './services/administration/index.ts';
import { cachedClients } from './services/client-cache.ts';
import { createViews, type Views } from './http/views.ts';
import { createCsrf, type Csrf } from './http/csrf.ts';
import { createInterstitial } from './oidc/interstitial.ts';
import { adapterErrors, createProvider } from './oidc/provider.ts';
import { installSingleUseGrants } from './oidc/single-use.ts';
import { installTokenExchange } from './oidc/token-exchange.ts';
import { auditProviderEvents } from './oidc/audit-events.ts';
import { createThrottle, type Throttle } from './security/throttle.ts';
import { throttleClientSecrets } from './security/throttle-hooks.ts';
import { createMetrics, type Metrics } from './observability/metrics.ts';
import { observeProviderEvents } from './observability/provider-events.ts';
import { observeDatabase } from './observability/database.ts';
import type { Logger } from './log.ts';
import { requestIdOf } from './http/request-context.ts';

/**
 * What a measuring harness (bench/instrumentation.ts) may hook into. Nothing in the production
 * entry supplies it: the benchmarks run their own entry (bench/server.ts).
 */
export interface Instrumentation {
  /** Told of every statement the app's own connections run. */
  onStatement?: (sql: string) => void;
  /** Keeps the provider's models somewhere else than the database (the in-memory baseline). */
  providerStorage?: (clients: { adapter(): Adapter }) => { adapter: (model: string) => Adapter; redemptions: Adapter; graceSlots: Adapter };
  /** Routes of the harness's own, served before the provider. */
  routes?: Router;
}

export interface AppDeps {
  config: Readonly<Config>;
  keys: KeyMaterial;
  db: Knex;
  log: Logger;
  /** Epoch milliseconds; tests move it to expire things. */
  now?: () => number;
  /** Counters and histograms, kept across app rebuilds (key reloads); a fresh set by default. */
  metrics?: Metrics;
  /** Shared with the process: set when it is shutting down (readiness answers 503 then). */
  lifecycle?: { shuttingDown: boolean };
  /** Hooks for measuring the app (benchmarks); production runs without any. */
  instrument?: Instrumentation;
}

export interface Core {
  provider: Provider;
  accounts: Accounts;
  catalog: ResourceCatalog;
  clients: ClientStore;
  views: Views;
  csrf: Csrf;
  throttle: Throttle;
  audit: Audit;
  grants: Grants;
  /** Status lists of JWT access tokens (services/status-lists.ts). */
  statusLists: StatusLists;
  /** The operator's service layer (the admin API's, and the CLI's over its own connection). */
  administration: Administration;
  metrics: Metrics;
  isVerifiedClient(clientId: string): Promise<boolean>;
  /** Commits pending writes and releases what the core holds besides the Knex pool. */
  close(): Promise<void>;
}

const accountHasPasskey = (store: PasskeyStore) => async (accountId: string) => (await store.count(accountId)) > 0;

export async function buildCore(deps: AppDeps): Promise<Core> {
  const { config, keys, db, log } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetrics({ defaultMetrics: false });
  const instrument = deps.instrument ?? {};
  const onStatement = instrument.onStatement;
  const onDuration = (seconds: number) => metrics.dbStatementDuration.observe(seconds);
  observeDatabase(db, metrics);

  const sealer = sealerFor(keys);
  const clients = new ClientStore(db, sealer, now);
  const catalog = new ResourceCatalog(db, 1000, [adminResource(config.issuer)]);
  await catalog.reload();
  const accounts = createAccounts(db, now);
  const views = createViews({ cache: config.env === 'production' });
  const csrf = createCsrf(keys.data, keys.dataRetired);
  const audit = createAudit(db, log, now);
  const throttle = createThrottle(db, config.database, config.throttle, onStatement, (limit) => metrics.throttled.inc({ limit }));

  // oidc-provider validates client metadata synchronously against the resource snapshot: make
  // sure a client created a moment after its resource server (CLI, another instance) compiles.
  const clientAdapter = cachedClients(clients.adapter());
  const clientsForProvider = {
    adapter() {
      return {
        ...clientAdapter,
        async find(id: string) {
          const metadata = await clientAdapter.find(id);
          const resources = metadata?.resource_scopes;
          if (resources && typeof resources === 'object') await catalog.covering(Object.keys(resources));
          return metadata;
        },
      };
    },
  };

  const isVerifiedClient = async (clientId: string) => (await clients.get(clientId))?.verified ?? false;
  const findEarlierGrantId = async (accountId: string, clientId: string) => {
    const grants = await findPayloads(db, sealer, 'Grant', { accountId, clientId }, now());
    grants.sort((a, b) => Number(b.iat ?? 0) - Number(a.iat ?? 0));
    return grants[0]?.jti as string | undefined;
  };

  // Writes that arrive together share one commit and few statements (group-commit.ts); on
  // SQLite the adapter's statements run prepared, reused (sqlite-statements.ts).
  const statements = isPostgres(db) ? undefined : new SqliteStatements(db, { onStatement, onDuration });
  const writer = new GroupCommit(db, { statements, onBatch: (size) => metrics.groupCommitBatchSize.observe(size) });
  // Lookups get a read-only connection of their own on a SQLite file, so they never queue
  // behind a commit's sync or a purge batch (WAL lets them read meanwhile).
  const readConnection =
    config.database.client === 'sqlite' && config.database.filename !== ':memory:'
      ? new SqliteReadConnection(sqlite3, config.database.filename, { onStatement, onDuration })
      : undefined;
  const reader = new PayloadReader(db, now, readConnection ?? statements);
  const storage = instrument.providerStorage?.(clientsForProvider);
  // JWT access tokens point into status lists; revoking a grant sets their bits (oidc/status-recall.ts).
  const statusLists = createStatusLists({
    store: new StatusListStore(db, { writer }),
    catalog,
    issuer: config.issuer,
    signingKey: keys.signing[0] as SigningJwk,
    grantKey: (grantId) => sealer.digest(grantId),
    now,
  });
  const provider = createProvider({
    config,
    keys,
    adapter: recallingJwtAccessTokens(
      storage?.adapter ??
        createAdapterFactory(db, sealer, clientsForProvider, { errors: adapterErrors, now, revokedGrantTtl: config.ttl.grant, writer, reader }),
      statusLists,
    ),
    statusLists,
    accounts,
    catalog,
    views,
    findEarlierGrantId,
    isVerifiedClient,
    interstitial: createInterstitial({ views, isVerifiedClient }),
    // PASSKEY_AS_SECOND_FACTOR=required-when-registered holds for sessions older than the passkey too.
    accountNeedsPasskey: config.passkeyAsSecondFactor === 'required-when-registered' && passkeysPossibleFor(config.issuer) ? accountHasPasskey(new PasskeyStore(db)) : undefined,
  });
  throttleClientSecrets(provider, throttle);
  installSingleUseGrants(provider, {
    redemptions: storage?.redemptions ?? new PayloadAdapter(db, 'Redemption', sealer, { errors: adapterErrors, now, writer, reader }),
    graceSlots: storage?.graceSlots ?? new PayloadAdapter(db, 'GraceReplay', sealer, { errors: adapterErrors, now, writer, reader }),
    graceSeconds: config.refreshGraceSeconds,
    now,
    // A refresh's consume, new tokens and grace record commit together (adapters/write-unit.ts).
    oneUnit: storage ? undefined : (work) => asOneUnit(writer, work),
    onReuse: (ctx, grantId, kind) => {
      metrics.refreshReuseDetected.inc();
      log.warn('reused token refused; its grant is revoked', { requestId: requestIdOf(ctx), kind, clientId: ctx.oidc.client?.clientId });
      audit.note({ event: 'token.reuse_detected', clientId: ctx.oidc.client?.clientId, grantId, actor: 'client', ip: ctx.ip, details: { kind } });
    },
  });
  installTokenExchange(provider, { catalog, accounts, audit });
  const grants = createGrants({ db, sealer, provider, audit, statusLists });
  const administration = createAdministration({ db, config, fileKeys: () => keys, provider, store: clients, catalog, accounts, audit, grants });
  auditProviderEvents(provider, audit);
  observeProviderEvents(provider, { log, metrics });

  return {
    provider,
    accounts,
    catalog,
    clients,
    views,
    csrf,
    throttle,
    audit,
    grants,
    statusLists,
    administration,
    metrics,
    isVerifiedClient,
    close: async () => {
      await writer.drain();
      await readConnection?.close();
      await audit.idle();
      await throttle.close();
    },
  };
}
