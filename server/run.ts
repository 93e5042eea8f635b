// The server's life: configuration → keys → database → app → listen; key reloads on change or
// SIGHUP; graceful shutdown on SIGTERM. Started by server/index.ts (production) and by the
// benchmarks' own entry (bench/server.ts), which alone adds instrumentation.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import { ConfigError, loadConfig, type Config } from './config/env.ts';
import { dataKeys, loadKeyMaterial, sealerFor, type KeyMaterial } from './config/keys.ts';
import { resealAll } from '../adapters/reseal.ts';
import { createDatabase } from './db/knex.ts';
import { checkKeyPairing, prepareDatabase } from './bootstrap.ts';
import { buildApp, type Instrumentation, type LatchkeyApp } from './app.ts';
import { createLogger } from './log.ts';
import { purgeExpired } from '../adapters/knex-adapter.ts';
import type { Knex } from 'knex';

const SHUTDOWN_GRACE_MS = 8000;
/** A replaced app keeps serving the requests it already has for this long. */
const DRAIN_MS = 30_000;

export interface RunOptions {
  /** Builds hooks for measuring the app (benchmarks only), once the database is open. */
  instrument?: (db: Knex, config: Readonly<Config>) => Instrumentation;
}

async function main({ instrument: instrumentFor }: RunOptions) {
  const config = loadConfig();
  const log = createLogger();
  let { material: keys, generated } = loadKeyMaterial(config);
  if (generated) log.warn('generated development keys; keep this file, tokens depend on it', { file: config.keysFile });

  const db = createDatabase(config.database);
  const instrument = instrumentFor?.(db, config);
  await prepareDatabase(db, { config, keys, log });
  let active: LatchkeyApp = await buildApp({ config, keys, db, log, instrument });
  let handle = active.app.callback();

  // Slow clients cannot hold a connection forever (T42d): headers within 10 s, the whole request
  // within 30 s, checked every second (Node's default check interval is 30 s).
  const server = http.createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000, keepAliveTimeout: 5_000 },
    (req, res) => handle(req, res),
  );

  // `latchkey keys rotate` rewrites the key file: rebuild the app around the new keys and swap
  // it in. oidc-provider fixes its keystore at construction, hence a new instance.
  let reloading = Promise.resolve();
  const reloadKeys = (reason: string) => {
    reloading = reloading.then(async () => {
      let next: KeyMaterial;
      try {
        next = loadKeyMaterial(config).material;
      } catch (error) {
        log.error('keys not reloaded: the key material is unusable', error);
        return;
      }
      if (JSON.stringify(next) === JSON.stringify(keys)) return;
      // A new data key is fine as long as the one in use stays to open what it sealed
      // (`latchkey keys rotate --data` retires it); a replaced one would make every row unreadable.
      if (!dataKeys(next).includes(keys.data)) {
        log.error('keys not reloaded: the data key in use is gone from the new key material, which would make every stored token unreadable');
        return;
      }
      // The database now records the new active data key (bootstrap.ts, checkKeyPairing).
      if (next.data !== keys.data) await checkKeyPairing(db, next, config.keysJson ? 'LATCHKEY_KEYS' : config.keysFile);
      const replaced = active;
      active = await buildApp({ config, keys: next, db, log, instrument });
      handle = active.app.callback();
      keys = next;
      setTimeout(() => void replaced.close(), DRAIN_MS).unref();
      log.info('keys reloaded', { reason, signing: keys.signing.map((k) => k.kid) });
      if (next.dataRetired?.length) startResealing();
    });
  };

  // After a data key rotation: reseal what older keys sealed, in the background, one pass at a
  // time (a newer rotation stops the pass and starts another under the newest key).
  let resealing: AbortController | undefined;
  const startResealing = () => {
    resealing?.abort();
    const controller = new AbortController();
    resealing = controller;
    resealAll(db, sealerFor(keys), { signal: controller.signal })
      .then(
        (count) => count && log.info('resealed stored values under the active data key', { count }),
        (error) => log.error('resealing failed; it is tried again at the next purge', error),
      )
      .finally(() => {
        if (resealing === controller) resealing = undefined;
      });
  };
  if (keys.dataRetired?.length) startResealing();
  if (!config.keysJson) fs.watchFile(config.keysFile, { interval: 1000 }, () => reloadKeys('key file changed'));
  process.on('SIGHUP', () => reloadKeys('SIGHUP'));

  // One purge at a time: a long one (it rests between batches) is not overtaken by the next.
  let purging = false;
  const purge = setInterval(() => {
    if (keys.dataRetired?.length && !resealing) startResealing();
    if (purging) return;
    purging = true;
    Promise.all([purgeExpired(db), active.throttle.purge()])
      .then(
        ([removed, counters]) => (removed || counters) && log.info('purged expired rows', { removed, counters }),
        (error) => log.error('purge failed', error),
      )
      .finally(() => {
        purging = false;
      });
  }, config.purgeIntervalSeconds * 1000);
  purge.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  // The heap's ceiling, so an operator sees what `npm start` (or their NODE_OPTIONS) set.
  const heapLimitMiB = Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20);
  log.info('latchkey listening', { issuer: config.issuer, port, database: config.database.client, heapLimitMiB });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    clearInterval(purge);
    resealing?.abort();
    fs.unwatchFile(config.keysFile);
    const force = setTimeout(() => {
      log.warn('forcing shutdown after grace period');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      active
        .close()
        .then(() => db.destroy())
        .finally(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Starts the server; a configuration or start-up failure prints its reason and exits 1. */
export function runServer(options: RunOptions = {}): void {
  main(options).catch((error) => {
    if (error instanceof ConfigError) {
      console.error(`latchkey: configuration error: ${error.message}`);
    } else {
      console.error('latchkey: failed to start:', error);
    }
    process.exit(1);
  });
}
