// The real server as a child process without npm in between (`node dist/server/index.js`, the
// bundle `npm start` builds and runs), so that a signal hits the server process itself: crash
// tests SIGKILL it, benchmarks pin it to a core with taskset (which execs, keeping the pid).
// Plus a small form-POST client on node:http with its own keep-alive agent, so a test knows
// exactly which responses reached it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ROOT, waitForHttp } from './processes.ts';
import { buildBenchServer, buildServer } from '../../bin/build-server.js';

const built: { server?: string; bench?: string } = {};
/** The server bundle (or the benchmarks' one), built once per process from the sources as they are now. */
function serverBundle(kind: 'server' | 'bench'): string {
  if (kind === 'bench') return (built.bench ??= buildBenchServer());
  return (built.server ??= buildServer());
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerChild {
  child: ChildProcess;
  pid: number;
  issuer: string;
  output(): string;
  exited: Promise<Exit>;
  /** Resolves once discovery answers; rejects (with the server's output) otherwise. */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGTERM, then the exit (graceful shutdown). */
  stop(): Promise<Exit>;
}

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Starts the built server (`node dist/server/index.js`, as `npm start` does) on `port`. `env` is
 * added to this process's environment (NODE_ENV defaults to development, ISSUER and PORT are set
 * from `port`).
 * `cpus` (a taskset list such as "1") pins the server when taskset exists; `nodeArgs` go to node
 * (e.g. --cpu-prof, which NODE_OPTIONS refuses).
 */
export function startServerProcess({
  port,
  env,
  cpus,
  nodeArgs = [],
  bundle = 'server',
}: {
  port: number;
  env: Record<string, string>;
  cpus?: string;
  nodeArgs?: string[];
  /** `bench`: the benchmarks' server (bench/server.ts: BENCH_MODE, /bench/stats). */
  bundle?: 'server' | 'bench';
}): ServerChild {
  const issuer = env.ISSUER ?? `http://127.0.0.1:${port}`;
  const node = [process.execPath, ...nodeArgs, serverBundle(bundle)];
  const [command, ...args] = cpus ? ['taskset', '-c', cpus, ...node] : node;
  const child = spawn(command as string, args, {
    cwd: ROOT,
    // No drain on SIGTERM unless a test asks for one: stopping a server should not cost 5 s.
    env: { ...process.env, NODE_ENV: 'development', SHUTDOWN_DRAIN: '0', ...env, PORT: String(port), ISSUER: issuer },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  if (child.pid === undefined) throw new Error(`could not start ${command}`);

  return {
    child,
    pid: child.pid,
    issuer,
    output: () => output,
    exited,
    async ready(timeoutMs = 30_000) {
      try {
        await waitForHttp(`${issuer}/.well-known/openid-configuration`, timeoutMs, exited);
      } catch (error) {
        throw new Error(`${(error as Error).message}; server output:\n${output}`);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The demo secrets the first start writes next to the key file (seeds/01-demo.ts). */
export function readDemoCredentials(keysFile: string): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(path.dirname(keysFile), 'demo-credentials.json'), 'utf8')) as Record<string, string>;
}

export interface FormResponse {
  status: number;
  body: Record<string, unknown>;
}

export interface FormClient {
  /** POSTs a form; resolves only with a complete response, rejects on any socket error or timeout. */
  post(url: string, form: Record<string, string>, credentials?: { id: string; secret: string }): Promise<FormResponse>;
  close(): void;
}

export function basicAuth(id: string, secret: string): string {
  // RFC 6749 §2.3.1: form-urlencode each part before base64.
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

export function formClient({ maxSockets = 64, timeoutMs = 15_000 } = {}): FormClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return {
    post(url, form, credentials) {
      const body = new URLSearchParams(form).toString();
      const headers: Record<string, string | number> = {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
      };
      if (credentials) headers.authorization = basicAuth(credentials.id, credentials.secret);
      return new Promise<FormResponse>((resolve, reject) => {
        const request = http.request(url, { method: 'POST', agent, headers }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk) => (text += chunk));
          response.on('error', reject);
          response.on('aborted', () => reject(new Error('response aborted')));
          response.on('end', () => {
            if (!response.complete) return reject(new Error('response incomplete'));
            let parsed: Record<string, unknown>;
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              parsed = { unparsed: text.slice(0, 200) };
            }
            resolve({ status: response.statusCode ?? 0, body: parsed });
          });
        });
        request.setTimeout(timeoutMs, () => request.destroy(new Error(`no response within ${timeoutMs} ms`)));
        request.on('error', reject);
        request.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}
