// Builds the Koa application from its dependencies; no listening here (see index.ts).
import Koa from 'koa';
import mount from 'koa-mount';
import type { Knex } from 'knex';
import type Provider from 'oidc-provider';
import type { Adapter } from 'oidc-provider';
import type Router from '@koa/router';
import type { Config } from './config/env.ts';
import { sealerFor, type KeyMaterial } from './config/keys.ts';
import { ClientStore } from '../adapters/client-store.ts';
import { createAdapterFactory, findPayloads, PayloadAdapter } from '../adapters/knex-adapter.ts';
import { GroupCommit } from '../adapters/group-commit.ts';
import { PayloadReader } from '../adapters/payload-reader.ts';
import { asOneUnit } from '../adapters/write-unit.ts';
import sqlite3 from 'sqlite3';
import { SqliteReadConnection, SqliteStatements } from '../adapters/sqlite-statements.ts';
import { isPostgres } from '../adapters/rows.ts';
import { createAccounts, type Accounts } from './services/accounts.ts';
import { ResourceCatalog } from './services/resources.ts';
import { createViews, type Views } from './http/views.ts';
import { createCsrf } from './http/csrf.ts';
import { createDeviceCookie } from './http/device-cookie.ts';
import { securityHeaders } from './http/security-headers.ts';
import { sameOriginPosts } from './http/same-origin.ts';
import { registrationCors } from './http/registration-cors.ts';
import { pinToIssuer } from './http/pin-to-issuer.ts';
import { missingClientAuthIs401 } from './oidc/client-auth-errors.ts';
import { createInterstitial } from './oidc/interstitial.ts';
import { adapterErrors, createProvider } from './oidc/provider.ts';
import { installSingleUseGrants } from './oidc/single-use.ts';
import { interactionRoutes } from './routes/interaction.ts';
import { createConsentStep } from './routes/consent.ts';
import { ACCOUNT_CLIENT_ID, accountRoutes } from './routes/account.ts';
import { createAudit, type Audit } from './services/audit.ts';
import { createGrants, type Grants } from './services/grants.ts';
import { auditProviderEvents } from './oidc/audit-events.ts';
import { cachedClients } from './services/client-cache.ts';
import { siteRoutes } from './routes/site.ts';
import type { Logger } from './log.ts';
import { createThrottle, type Throttle } from './security/throttle.ts';
import { throttleClientSecrets, throttleRegistration } from './security/throttle-hooks.ts';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

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
  /** Hooks for measuring the app (benchmarks); production runs without any. */
  instrument?: Instrumentation;
}

export interface LatchkeyApp {
  app: Koa;
  provider: Provider;
  accounts: Accounts;
  catalog: ResourceCatalog;
  clients: ClientStore;
  views: Views;
  throttle: Throttle;
  audit: Audit;
  grants: Grants;
  /** Releases what the app holds besides the Knex pool (the limiter's connection). */
  close(): Promise<void>;
}

export async function buildApp(deps: AppDeps): Promise<LatchkeyApp> {
  const { config, keys, db, log } = deps;
  const now = deps.now ?? Date.now;
  const sealer = sealerFor(keys);
  const clients = new ClientStore(db, sealer, now);
  const catalog = new ResourceCatalog(db);
  await catalog.reload();
  const accounts = createAccounts(db, now);
  const views = createViews({ cache: config.env === 'production' });
  const csrf = createCsrf(keys.data, keys.dataRetired);
  const audit = createAudit(db, log, now);
  const instrument = deps.instrument ?? {};
  const onStatement = instrument.onStatement;
  const throttle = createThrottle(db, config.database, config.throttle, onStatement);

  // oidc-provider validates client metadata synchronously against the resource snapshot: make
  // sure a client created a moment after its resource server (CLI, another instance) compiles.
  const clientAdapter = cachedClients(clients.adapter());
  const clientsForProvider = {
    adapter() {
      const adapter = clientAdapter;
      return {
        ...adapter,
        async find(id: string) {
          const metadata = await adapter.find(id);
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
  const statements = isPostgres(db) ? undefined : new SqliteStatements(db, { onStatement });
  const writer = new GroupCommit(db, { statements });
  // Lookups get a read-only connection of their own on a SQLite file, so they never queue
  // behind a commit's sync or a purge batch (WAL lets them read meanwhile).
  const readConnection =
    config.database.client === 'sqlite' && config.database.filename !== ':memory:'
      ? new SqliteReadConnection(sqlite3, config.database.filename, { onStatement })
      : undefined;
  const reader = new PayloadReader(db, now, readConnection ?? statements);
  const storage = instrument.providerStorage?.(clientsForProvider);
  const provider = createProvider({
    config,
    keys,
    adapter:
      storage?.adapter ??
      createAdapterFactory(db, sealer, clientsForProvider, { errors: adapterErrors, now, revokedGrantTtl: config.ttl.grant, writer, reader }),
    accounts,
    catalog,
    views,
    findEarlierGrantId,
    isVerifiedClient,
    log,
    interstitial: createInterstitial({ views, isVerifiedClient }),
  });
  throttleClientSecrets(provider, throttle);
  installSingleUseGrants(provider, {
    redemptions: storage?.redemptions ?? new PayloadAdapter(db, 'Redemption', sealer, { errors: adapterErrors, now, writer, reader }),
    graceSlots: storage?.graceSlots ?? new PayloadAdapter(db, 'GraceReplay', sealer, { errors: adapterErrors, now, writer, reader }),
    graceSeconds: config.refreshGraceSeconds,
    now,
    // A refresh's consume, new tokens and grace record commit together (adapters/write-unit.ts).
    oneUnit: storage ? undefined : (work) => asOneUnit(writer, work),
    onReuse: (ctx, grantId, kind) =>
      audit.note({ event: 'token.reuse_detected', clientId: ctx.oidc.client?.clientId, grantId, actor: 'client', ip: ctx.ip, details: { kind } }),
  });

  const app = new Koa();
  // The provider's cookies are set through this app's context when mounted: same keys, same
  // proxy trust (OIDC-PROVIDER-NOTES "Seen when running it under load").
  app.keys = keys.cookies;
  // Scheme and host always come from the issuer (pinToIssuer rewrites the forwarded headers),
  // so reading them is safe; the client IP is taken from X-Forwarded-For only with TRUST_PROXY.
  app.proxy = true;
  // With TRUST_PROXY, the client address is the X-Forwarded-For entry PROXY_HOPS from the right
  // (Koa reads only the last maxIpsCount entries); anything further left is the client's claim.
  app.maxIpsCount = config.proxyHops;
  app.use(pinToIssuer({ issuer: config.issuer, trustProxy: config.trustProxy }));

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const status = (error as { status?: number; expose?: boolean }).status;
      if (status && status >= 400 && status < 500) {
        await views.respond(ctx, 'error', { title: 'Request not accepted', error: 'invalid_request', explanation: 'The request could not be read.' }, status);
        return;
      }
      log.error(`unhandled error on ${ctx.method} ${ctx.path}`, error);
      await views.respond(ctx, 'error', { title: 'Something went wrong', error: 'server_error', explanation: 'Something went wrong on our side. Please try again in a moment.' }, 500);
    }
  });
  app.use(securityHeaders({ hsts: config.issuer.startsWith('https:') }));
  app.use(async (ctx, next) => {
    // Methods nobody here implements (TRACE, PROPFIND, ...): 405, never a 5xx (T42 fuzzing).
    if (KNOWN_METHODS.has(ctx.method)) return next();
    ctx.set('Allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS');
    await views.respond(ctx, 'error', { title: 'Method not allowed', error: 'invalid_request', explanation: 'This method is not supported here.' }, 405);
  });

  app.use(
    sameOriginPosts({
      issuer: config.issuer,
      views,
      applies: (path) => path.startsWith('/interaction/') || path.startsWith('/account/') || path === '/session/end/confirm',
    }),
  );

  const site = siteRoutes({ views, db, issuer: config.issuer });
  const consent = createConsentStep({
    provider,
    accounts,
    catalog,
    views,
    csrf,
    audit,
    isVerifiedClient,
    firstPartyClientId: ACCOUNT_CLIENT_ID,
    durations: { durations: config.grantDurations, defaultDuration: config.grantDurationDefault, grantTtl: config.ttl.grant },
  });
  const devices = createDeviceCookie({ secure: config.issuer.startsWith('https:') });
  const interactions = interactionRoutes({ provider, accounts, catalog, views, csrf, isVerifiedClient, throttle, devices, consent, audit });
  const grants = createGrants({ db, sealer, provider, audit });
  auditProviderEvents(provider, audit, grants);
  const account = accountRoutes({ provider, accounts, grants, audit, catalog, views, csrf, issuer: config.issuer });
  app.use(site.routes()).use(site.allowedMethods());
  if (instrument.routes) app.use(instrument.routes.routes());
  app.use(interactions.routes()).use(interactions.allowedMethods());
  app.use(account.routes()).use(account.allowedMethods());
  if (config.dynamicRegistration !== 'off') app.use(registrationCors('/reg'));
  app.use(throttleRegistration(throttle, '/reg'));
  // Registration metadata is validated synchronously against the in-memory resource catalogue:
  // read it afresh for every registration and update (they are rare), so a resource server added
  // a moment ago by the CLI or another instance is known at once.
  app.use(async (ctx, next) => {
    if ((ctx.method === 'POST' && ctx.path === '/reg') || (ctx.method === 'PUT' && ctx.path.startsWith('/reg/'))) await catalog.reload();
    return next();
  });
  app.use(missingClientAuthIs401({ issuer: config.issuer }));
  app.use(mount(provider as unknown as Koa));

  // Nothing matched: our 404 page rather than Koa's plain text.
  app.use(async (ctx) => {
    await views.respond(ctx, 'error', { title: 'Not found', error: 'not_found', explanation: 'There is no page at this address.' }, 404);
  });

  return {
    app,
    provider,
    accounts,
    catalog,
    clients,
    views,
    throttle,
    audit,
    grants,
    close: async () => {
      await writer.drain();
      await readConnection?.close();
      await audit.idle();
      await throttle.close();
    },
  };
}
