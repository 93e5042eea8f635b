// Background work of a running instance: purging expired rows and counters in small batches
// (every PURGE_INTERVAL, one purge at a time), and after a data key rotation resealing what older
// keys sealed (one pass at a time; a newer rotation stops the pass and starts another).
import type { Knex } from 'knex';
import type { Config } from './config/env.ts';
import { sealerFor, type KeyMaterial } from './config/keys.ts';
import { purgeExpired } from '../adapters/payload-queries.ts';
import { resealAll } from '../adapters/reseal.ts';
import type { Throttle } from './security/throttle.ts';
import type { Metrics } from './observability/metrics.ts';
import type { Logger } from './log.ts';

export interface Maintenance {
  /** Starts a resealing pass under the current keys (after a data key rotation). */
  reseal(): void;
  /** Stops the timers and any pass in progress (shutdown). */
  stop(): void;
}

export function startMaintenance({
  config,
  db,
  log,
  metrics,
  keys,
  throttle,
}: {
  config: Readonly<Config>;
  db: Knex;
  log: Logger;
  metrics: Metrics;
  keys(): KeyMaterial;
  throttle(): Throttle;
}): Maintenance {
  let resealing: AbortController | undefined;
  const reseal = () => {
    resealing?.abort();
    const controller = new AbortController();
    resealing = controller;
    resealAll(db, sealerFor(keys()), { signal: controller.signal })
      .then(
        (count) => count && log.info('resealed stored values under the active data key', { count }),
        (error) => log.error('resealing failed; it is tried again at the next purge', error),
      )
      .finally(() => {
        if (resealing === controller) resealing = undefined;
      });
  };
  if (keys().dataRetired?.length) reseal();

  let purging = false;
  const timer = setInterval(() => {
    if (keys().dataRetired?.length && !resealing) reseal();
    if (purging) return;
    purging = true;
    Promise.all([purgeExpired(db), throttle().purge()])
      .then(
        ([removed, counters]) => {
          metrics.purgedRows.inc(removed + counters);
          if (removed || counters) log.info('purged expired rows', { removed, counters });
        },
        (error) => log.error('purge failed', error),
      )
      .finally(() => {
        purging = false;
      });
  }, config.purgeIntervalSeconds * 1000);
  timer.unref();

  return {
    reseal,
    stop() {
      clearInterval(timer);
      resealing?.abort();
    },
  };
}
