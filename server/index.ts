// Entry point: configuration → keys → database → app → listen; graceful shutdown on SIGTERM.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from './config/env.ts';
import { loadKeyMaterial } from './config/keys.ts';
import { createDatabase } from './db/knex.ts';
import { prepareDatabase } from './bootstrap.ts';
import { buildApp } from './app.ts';
import { createLogger } from './log.ts';
import { purgeExpired } from '../adapters/knex-adapter.ts';

const SHUTDOWN_GRACE_MS = 8000;

async function main() {
  const config = loadConfig();
  const log = createLogger();
  const { material: keys, generated } = loadKeyMaterial(config);
  if (generated) log.warn('generated development keys; keep this file, tokens depend on it', { file: config.keysFile });

  const db = createDatabase(config.database);
  await prepareDatabase(db, { config, keys, log });
  const latchkey = await buildApp({ config, keys, db, log });
  const { app } = latchkey;

  const server = http.createServer(app.callback());
  // Slow clients cannot hold a connection forever (T42d).
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  const purge = setInterval(() => {
    Promise.all([purgeExpired(db), latchkey.throttle.purge()]).then(
      ([removed, counters]) => (removed || counters) && log.info('purged expired rows', { removed, counters }),
      (error) => log.error('purge failed', error),
    );
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
  log.info('latchkey listening', { issuer: config.issuer, port, database: config.database.client });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    clearInterval(purge);
    const force = setTimeout(() => {
      log.warn('forcing shutdown after grace period');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      latchkey
        .close()
        .then(() => db.destroy())
        .finally(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  if (error instanceof ConfigError) {
    console.error(`latchkey: configuration error: ${error.message}`);
  } else {
    console.error('latchkey: failed to start:', error);
  }
  process.exit(1);
});
