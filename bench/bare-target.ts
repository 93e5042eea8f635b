// The bare oidc-provider baseline (bench/bare-provider.ts) as a target: bundled with esbuild the
// way bin/build-server.js bundles our bench server (so neither runs through tsx's loader), then
// started as a child process, pinned like our server.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { bundle } from '../bin/bundle.js';
import { freePort, ROOT, waitForHttp } from '../test/helpers/processes.ts';
import { BARE_CLIENT_IDS, type BareSecrets } from './bare-configuration.ts';
import type { BenchStats, Target } from './target.ts';

const BUNDLE = path.join(ROOT, 'dist', 'bench', 'bare-provider.js');

function buildBareProvider(): string {
  // Bundled like our bench server (bin/bundle.js): profiles of both read alike.
  return bundle('bench/bare-provider.ts', BUNDLE);
}

export async function startBareTarget(cpus: string | undefined, nodeArgs: string[] = []): Promise<Target> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const secrets = Object.fromEntries(BARE_CLIENT_IDS.map((id) => [id, crypto.randomBytes(32).toString('base64url')])) as BareSecrets;
  const node = [process.execPath, ...nodeArgs, buildBareProvider()];
  const [command, ...args] = cpus ? ['taskset', '-c', cpus, ...node] : node;
  const child = spawn(command as string, args, {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'development', PORT: String(port), ISSUER: issuer, BARE_CLIENT_SECRETS: JSON.stringify(secrets) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    await waitForHttp(`${issuer}/.well-known/openid-configuration`, 30_000, exited);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}; bare provider output:\n${output}`);
  }
  return {
    kind: 'bare',
    issuer,
    demo: secrets,
    async stats() {
      return (await (await fetch(`${issuer}/bench/stats`)).json()) as BenchStats;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const exit = await exited;
      if (exit.code !== 0) console.error(`bare provider exited with ${JSON.stringify(exit)}:\n${output.slice(-2000)}`);
    },
  };
}
