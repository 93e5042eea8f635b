// A server under test: our real server as a child process in one bench mode, on a fresh
// database, with the demo data seeded and the abuse limits out of the way.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { throwAwayPostgresDatabase } from '../test/helpers/postgres-database.ts';
import { freePort } from '../test/helpers/processes.ts';
import { readDemoCredentials, startServerProcess, type ServerChild } from '../test/helpers/server-process.ts';

export type TargetKind = 'memory' | 'sqlite' | 'pg';

export interface BenchStats {
  statements: number;
  rss: number;
  cpu: { user: number; system: number };
  /** CPU µs of the main thread and of all other threads (Linux only). */
  threadsCpu?: { main: number; others: number };
}

export interface Target {
  kind: TargetKind;
  issuer: string;
  demo: Record<string, string>;
  /** The database the server uses (users are inserted there directly for W4). */
  databaseUrl: string;
  stats(): Promise<BenchStats>;
  stop(): Promise<void>;
}

const UNTHROTTLED = {
  LOGIN_IP_ATTEMPTS: '100000',
  LOGIN_FREE_ATTEMPTS: '100',
  CLIENT_AUTH_ATTEMPTS: '100000',
  REGISTRATIONS_PER_IP: '100000',
  REGISTRATIONS_PER_TOKEN: '100000',
};


export async function startTarget(kind: TargetKind, cpus: string | undefined, nodeArgs: string[] = [], extraEnv: Record<string, string> = {}): Promise<Target> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `latchkey-bench-${kind}-`));
  const keysFile = path.join(dir, 'keys.json');
  const postgres = kind === 'pg' ? await throwAwayPostgresDatabase(process.env.DATABASE_URL_PG as string, 'latchkey_bench') : undefined;
  const databaseUrl = postgres?.url ?? `sqlite:${path.join(dir, 'latchkey.sqlite')}`;
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
    async stats() {
      return (await (await fetch(`${server.issuer}/bench/stats`)).json()) as BenchStats;
    },
    async stop() {
      const exit = await server.stop();
      if (exit.code !== 0) console.error(`server (${kind}) exited with ${JSON.stringify(exit)}:\n${server.output().slice(-2000)}`);
      await postgres?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
