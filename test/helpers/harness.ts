// Starts a real Latchkey server on loopback for a test file: real HTTP, a real database file
// (or PostgreSQL database), real keys. Nothing is mocked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { loadConfig, type Config } from '../../server/config/env.ts';
import { generateKeyMaterial, type KeyMaterial } from '../../server/config/keys.ts';
import { createDatabase } from '../../server/db/knex.ts';
import { prepareDatabase } from '../../server/bootstrap.ts';
import { buildApp, type LatchkeyApp } from '../../server/app.ts';
import { createLogger } from '../../server/log.ts';
import { createManagement, type Management } from '../../server/management.ts';
import { freshDatabase, type FreshDatabase, type StoreKind } from './databases.ts';

export interface Harness {
  issuer: string;
  url(path: string): string;
  config: Readonly<Config>;
  keys: KeyMaterial;
  db: Knex;
  database: FreshDatabase;
  app: LatchkeyApp;
  management: Management;
  close(): Promise<void>;
}

export interface HarnessOptions {
  store?: StoreKind;
  env?: Record<string, string>;
  /** A second instance on the same database and keys (scale-out tests); it never drops the database. */
  sameDatabaseAs?: Harness;
  /**
   * The instance's key file (default: generated, or the first instance's keys with
   * `sameDatabaseAs`). Give a second instance a file that shares only the data key to show that
   * what must agree comes through the database.
   */
  fileKeys?: KeyMaterial;
  /**
   * The issuer's host name (default 127.0.0.1). Passkey tests use `localhost`: browsers refuse an
   * IP address as a WebAuthn relying party id. It still listens on 127.0.0.1 only.
   */
  hostname?: string;
}

export async function startServer({ store = 'sqlite', env = {}, sameDatabaseAs, fileKeys: givenKeys, hostname = '127.0.0.1' }: HarnessOptions = {}): Promise<Harness> {
  const database = sameDatabaseAs ? { ...sameDatabaseAs.database, drop: async () => undefined } : await freshDatabase(store);
  // Listen first: the issuer names the port, and the provider needs the issuer at construction.
  let handler: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${hostname}:${port}`;

  const config = loadConfig({
    NODE_ENV: 'test',
    ISSUER: issuer,
    DATABASE_URL: database.url,
    SEED_DEMO: 'false',
    KEYS_FILE: '/nonexistent/keys.json',
    ...env,
  });
  const fileKeys = givenKeys ?? sameDatabaseAs?.keys ?? generateKeyMaterial();
  const log = createLogger({ quiet: true });
  const db = createDatabase(config.database);
  const { keys } = await prepareDatabase(db, { config, keys: fileKeys, log });
  const app = await buildApp({ config, keys, db, log });
  handler = app.app.callback();

  return {
    issuer,
    url: (path) => `${issuer}${path}`,
    config,
    keys,
    db,
    database,
    app,
    management: createManagement(db, { config, keys }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      await db.destroy();
      await database.drop();
    },
  };
}
