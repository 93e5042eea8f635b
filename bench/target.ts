// A server under test: our real server as a child process in one bench mode, on a fresh
// database, with the demo data seeded and the abuse limits out of the way; or the bare
// oidc-provider baseline (bench/bare-target.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { throwAwayPostgresDatabase } from '../test/helpers/postgres-database.ts';
import { freePort } from '../test/helpers/processes.ts';
import { readDemoCredentials, startServerProcess, type ServerChild } from '../test/helpers/server-process.ts';
import { startBareTarget } from './bare-target.ts';

/** Our server in its three stores, and bare oidc-provider with its memory adapter. */
export type TargetKind = 'memory' | 'sqlite' | 'pg' | 'bare';
export type ServerKind = Exclude<TargetKind, 'bare'>;

/** The database's CPU µs: its backends serving the run's database, and its shared background processes. */
export interface DatabaseCpu {
  backends: number;
  background: number;
}

export interface BenchStats {
  statements: number;
  rss: number;
  cpu: { user: number; system: number };
  /** CPU µs of the main thread and of all other threads (Linux only). */
  threadsCpu?: { main: number; others: number };
  /** CPU µs of the PostgreSQL cluster's processes (scale-out only, bench/postgres-cluster.ts). */
  databaseCpu?: DatabaseCpu;
}

export interface Target {
  kind: TargetKind;
  issuer: string;
  /** Where the load goes, spread over the URLs' connections (default: `issuer` alone). */
  issuers?: string[];
  demo: Record<string, string>;
  /**
   * The database the server uses (users are inserted there directly for W3 and W4); none for
   * bare oidc-provider, which signs in any name (bench/bare-interactions.ts).
   */
  databaseUrl?: string;
  stats(): Promise<BenchStats>;
  stop(): Promise<void>;
}

export interface ServerTarget extends Target {
  kind: ServerKind;
  databaseUrl: string;
  /** The key file, shared by every instance of a scale-out run. */
  keysFile: string;
}

const UNTHROTTLED = {
  LOGIN_IP_ATTEMPTS: '100000',
  LOGIN_FREE_ATTEMPTS: '100',
  CLIENT_AUTH_ATTEMPTS: '100000',
  REGISTRATIONS_PER_IP: '100000',
  REGISTRATIONS_PER_TOKEN: '100000',
};

export function startTarget(kind: ServerKind, cpus: string | undefined, nodeArgs?: string[], extraEnv?: Record<string, string>): Promise<ServerTarget>;
export function startTarget(kind: TargetKind, cpus: string | undefined, nodeArgs?: string[], extraEnv?: Record<string, string>): Promise<Target>;
export async function startTarget(kind: TargetKind, cpus: string | undefined, nodeArgs: string[] = [], extraEnv: Record<string, string> = {}): Promise<Target> {
  if (kind === 'bare') return startBareTarget(cpus, nodeArgs);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `latchkey-bench-${kind}-`));
  const postgres = kind === 'pg' ? await throwAwayPostgresDatabase(process.env.DATABASE_URL_PG as string, 'latchkey_bench') : undefined;
  const databaseUrl = postgres?.url ?? `sqlite:${path.join(dir, 'latchkey.sqlite')}`;
  const instance = await startInstance({ kind, cpus, nodeArgs, extraEnv, databaseUrl, keysFile: path.join(dir, 'keys.json') });
  return {
    ...instance,
    async stop() {
      await instance.stop();
      await postgres?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One server on a database and key file it does not own (stop() leaves both): what
 * startTarget wraps, and what a scale-out run starts twice on the same database and keys.
 */
export async function startInstance({
  kind,
  cpus,
  databaseUrl,
  keysFile,
  nodeArgs = [],
  extraEnv = {},
}: {
  kind: ServerKind;
  cpus: string | undefined;
  databaseUrl: string;
  keysFile: string;
  nodeArgs?: string[];
  extraEnv?: Record<string, string>;
}): Promise<ServerTarget> {
  const server: ServerChild = startServerProcess({
    port: await freePort(),
    env: {
      ...UNTHROTTLED,
      DATABASE_URL: databaseUrl,
      KEYS_FILE: keysFile,
      SEED_DEMO: 'true',
      SQLITE_SYNCHRONOUS: 'FULL',
      BENCH_MODE: kind === 'memory' ? 'memory' : 'knex',
      ...extraEnv,
    },
    cpus,
    nodeArgs,
    bundle: 'bench',
  });
  await server.ready(60_000);
  return {
    kind,
    issuer: server.issuer,
    demo: readDemoCredentials(keysFile),
    databaseUrl,
    keysFile,
    async stats() {
      return (await (await fetch(`${server.issuer}/bench/stats`)).json()) as BenchStats;
    },
    async stop() {
      const exit = await server.stop();
      if (exit.code !== 0) console.error(`server (${kind}) exited with ${JSON.stringify(exit)}:\n${server.output().slice(-2000)}`);
    },
  };
}
