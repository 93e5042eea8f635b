// Runs the real entry points (`npm start`, `npx latchkey`) as child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-proc-'));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npx latchkey ...args` with the given environment. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/latchkey.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'development', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ServerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /**
   * SIGKILL to npm and the server under it. Killing npm alone would orphan the server (npm
   * cannot forward SIGKILL), which then runs on after the test.
   */
  killAll(): void;
}

/** `npm start` exactly as a newcomer runs it. */
export function npmStart(env: Record<string, string>): ServerProcess {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: '', SHUTDOWN_DRAIN: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so killAll reaches the server that npm starts.
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killAll = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return { child, output: () => output, exited, killAll };
}

export async function waitForHttp(url: string, timeoutMs: number, exited?: Promise<unknown>): Promise<number> {
  const started = Date.now();
  let done = false;
  void exited?.then(() => (done = true));
  while (Date.now() - started < timeoutMs && !done) {
    try {
      const response = await fetch(url);
      if (response.ok) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}
