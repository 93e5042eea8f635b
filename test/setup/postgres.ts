// A throw-away PostgreSQL cluster for the test run, so every storage test runs on both SQLite
// and a real PostgreSQL server. TEST_DATABASE_URL_PG points at an existing server instead.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export default async function setup(project: TestProject) {
  if (process.env.TEST_DATABASE_URL_PG) {
    project.provide('pgUrl', process.env.TEST_DATABASE_URL_PG);
    return;
  }
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error('PostgreSQL binaries not found: install postgresql (Debian package) or set TEST_DATABASE_URL_PG');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-pg-'));
  const isRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root.
  const as = (command: string, args: string[]) =>
    isRoot ? (['runuser', ['-u', 'postgres', '--', command, ...args]] as const) : ([command, args] as const);
  if (isRoot) execFileSync('chown', ['postgres', dir]);
  const run = (command: string, args: string[]) => {
    const [cmd, argv] = as(command, args);
    const result = spawnSync(cmd, [...argv], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`);
  };

  const data = path.join(dir, 'data');
  const port = await freePort();
  run(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  run(path.join(bin, 'pg_ctl'), [
    '-D', data, '-w', '-l', path.join(dir, 'server.log'),
    '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
    'start',
  ]);
  project.provide('pgUrl', `postgres://postgres@127.0.0.1:${port}/postgres`);

  return () => {
    run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
