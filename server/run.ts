// The server's life: configuration → keys → database → app → listen; key reloads (key-watch.ts),
// background purge and resealing (maintenance.ts), metrics on a listener of their own, and a
// graceful shutdown on SIGTERM. Started by server/index.ts (production) and by the benchmarks'
// own entry (bench/server.ts), which alone adds instrumentation.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import Koa from 'koa';
import type { Knex } from 'knex';
import { ConfigError, loadConfig, type Config } from './config/env.ts';
import { loadKeyMaterial } from './config/keys.ts';
import { createDatabase } from './db/knex.ts';
import { prepareDatabase } from './bootstrap.ts';
import { buildApp, type Instrumentation, type LatchkeyApp } from './app.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics } from './observability/metrics.ts';
import { metricsRoute } from './routes/metrics.ts';
import { watchKeys } from './key-watch.ts';
import { startMaintenance, type Maintenance } from './maintenance.ts';
import { closingConnections } from './http/closing-connections.ts';

/** A replaced app (after a key reload) keeps serving the requests it already has for this long. */
const DRAIN_REPLACED_MS = 30_000;

export interface RunOptions {
  /** Builds hooks for measuring the app (benchmarks only), once the database is open. */
  instrument?: (db: Knex, config: Readonly<Config>) => Instrumentation;
}

function listen(server: http.Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function main({ instrument: instrumentFor }: RunOptions, log: Logger, config: Readonly<Config>) {
  const { material: fileKeys, generated } = loadKeyMaterial(config);
  if (generated) log.warn('generated development keys; keep this file, tokens depend on it', { file: config.keysFile });

  const db = createDatabase(config.database);
  const instrument = instrumentFor?.(db, config);
  const prepared = await prepareDatabase(db, { config, keys: fileKeys, log });
  const metrics = createMetrics();
  const lifecycle = { shuttingDown: false };
  let active: LatchkeyApp = await buildApp({ config, keys: prepared.keys, db, log, metrics, lifecycle, instrument });
  let handle = active.app.callback();

  // Slow clients cannot hold a connection forever (T42d): headers within 10 s, the whole request
  // within 30 s, checked every second (Node's default check interval is 30 s).
  const connections = closingConnections();
  const server = http.createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000, keepAliveTimeout: 5_000 },
    (req, res) => {
      connections.track(res);
      handle(req, res);
    },
  );

  let maintenance: Maintenance | undefined;
  const keys = watchKeys({
    config,
    db,
    log,
    initial: prepared,
    async apply(next) {
      const replaced = active;
      active = await buildApp({ config, keys: next, db, log, metrics, lifecycle, instrument });
      handle = active.app.callback();
      setTimeout(() => void replaced.close(), DRAIN_REPLACED_MS).unref();
      if (next.dataRetired?.length) setImmediate(() => maintenance?.reseal());
    },
  });
  maintenance = startMaintenance({ config, db, log, metrics, keys: () => keys.current(), throttle: () => active.throttle });

  const port = await listen(server, config.port);
  let metricsServer: http.Server | undefined;
  if (config.metrics.port !== undefined) {
    const metricsApp = new Koa().use(metricsRoute(metrics).routes());
    metricsServer = http.createServer(metricsApp.callback());
    const metricsPort = await listen(metricsServer, config.metrics.port, config.metrics.host);
    log.info('metrics listening', { host: config.metrics.host, port: metricsPort });
  }
  // The heap's ceiling, so an operator sees what `npm start` (or their NODE_OPTIONS) set.
  const heapLimitMiB = Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20);
  log.info('latchkey listening', { issuer: config.issuer, port, database: config.database.client, heapLimitMiB });

  // Graceful shutdown: readiness answers 503 at once while requests are still accepted for
  // SHUTDOWN_DRAIN seconds (a load balancer's health check sees it and stops sending), then the
  // listener closes, requests in flight finish, each the last on its connection
  // (http/closing-connections.ts; at most SHUTDOWN_TIMEOUT), pending group-commit
  // writes commit, the pool closes: exit 0. A second signal, or the timeout, cuts it short.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn('second signal: exiting now', { signal });
      log.flush();
      process.exit(1);
    }
    stopping = true;
    lifecycle.shuttingDown = true;
    log.info('shutting down', { signal, drainSeconds: config.shutdownDrainSeconds, timeoutSeconds: config.shutdownTimeoutSeconds });
    keys.stop();
    maintenance?.stop();
    setTimeout(() => {
      const force = setTimeout(() => {
        log.warn('requests still in flight after SHUTDOWN_TIMEOUT: closing their connections');
        server.closeAllConnections();
      }, config.shutdownTimeoutSeconds * 1000);
      force.unref();
      connections.close(server, () => {
        clearTimeout(force);
        metricsServer?.close();
        active
          .close()
          .then(() => db.destroy())
          .then(
            () => {
              log.info('stopped');
              log.flush();
              process.exit(0);
            },
            (error) => {
              log.error('shutdown failed', error);
              log.flush();
              process.exit(1);
            },
          );
      });
    }, config.shutdownDrainSeconds * 1000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Starts the server; a configuration or start-up failure prints its reason and exits 1. */
export function runServer(options: RunOptions = {}): void {
  let config: Readonly<Config>;
  let log: Logger;
  try {
    config = loadConfig();
    log = createLogger({ level: config.log.level, format: config.log.format });
  } catch (error) {
    console.error(error instanceof ConfigError ? `latchkey: configuration error: ${error.message}` : `latchkey: failed to start: ${String(error)}`);
    process.exit(1);
  }
  main(options, log, config).catch((error) => {
    if (error instanceof ConfigError) console.error(`latchkey: configuration error: ${error.message}`);
    else {
      log.error('failed to start', error);
      console.error('latchkey: failed to start:', error instanceof Error ? error.message : error);
    }
    log.flush();
    process.exit(1);
  });
}
