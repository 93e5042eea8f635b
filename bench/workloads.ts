// The four workloads of issue 6.
//   W1 client_credentials token requests (contacts-sync).
//   W2 introspection of opaque access tokens by their resource server (contacts-api).
//   W3 refresh with rotation, a fresh refresh token per request (each is presented once).
//   W4 full code + PKCE flows: login (scrypt), consent (a new user each time), token.
import crypto from 'node:crypto';
import autocannon from 'autocannon';
import { codeFlow, confidentialClient } from '../test/helpers/oauth.ts';
import { UserAgent } from '../test/helpers/user-agent.ts';
import { basicAuth } from '../test/helpers/server-process.ts';
import { parseDatabaseUrl } from '../server/config/env.ts';
import { createDatabase } from '../server/db/knex.ts';
import { hashPassword } from '../server/services/passwords.ts';
import type { DatabaseCpu, Target } from './target.ts';

export type Workload = 'W1' | 'W2' | 'W3' | 'W4';

export interface Measurement {
  /** Successful requests (W4: completed flows) per second. */
  rate: number;
  /** The same per second of server CPU time (user + system). */
  perCpuSecond: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  statementsPerRequest: number;
  rss: number;
  /** Server CPU µs per successful request on the main thread and on every other thread. */
  cpuPerRequest?: { main: number; others: number };
  /** The database's CPU µs per successful request, where the target reads it (scale-out). */
  databaseCpuPerRequest?: DatabaseCpu;
}

export interface Options {
  connections: number;
  flowConcurrency: number;
}

interface Runner {
  /**
   * Whether the workload means anything against bare oidc-provider: W4 measures our login
   * (scrypt) and consent pages, which the bare baseline does not have.
   */
  bare: boolean;
  prepare(target: Target, options: Options): Promise<unknown>;
  measure(target: Target, prepared: unknown, options: Options, seconds: number): Promise<Measurement>;
  /** Smoke mode: the tokens the workload got are valid. */
  verify?(target: Target, prepared: unknown): Promise<void>;
}

const REDIRECT = 'http://127.0.0.1:8080/callback';
/**
 * The contacts API, named in every request: the demo MCP server defines the same scope names,
 * and a scope several resource servers define needs RFC 8707 `resource` (scope-policy.ts).
 */
const RESOURCE = 'https://contacts-api.example';
const CLIENT_CREDENTIALS = `grant_type=client_credentials&scope=contacts%3Aread&resource=${encodeURIComponent(RESOURCE)}`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Runs `load`, reading server CPU time and statement counts around it. */
async function measured(target: Target, load: () => Promise<{ ok: number; errors: number; p50: number; p99: number; seconds: number }>): Promise<Measurement> {
  const before = await target.stats();
  const result = await load();
  const after = await target.stats();
  // The two /bench/stats calls themselves run no SQL.
  const cpuSeconds = (after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system) / 1e6;
  const requests = result.ok + result.errors;
  return {
    rate: result.ok / result.seconds,
    perCpuSecond: cpuSeconds > 0 ? result.ok / cpuSeconds : 0,
    p50: result.p50,
    p99: result.p99,
    errors: result.errors,
    requests,
    statementsPerRequest: requests ? (after.statements - before.statements) / requests : 0,
    rss: after.rss,
    ...(before.threadsCpu && after.threadsCpu && result.ok > 0
      ? {
          cpuPerRequest: {
            main: (after.threadsCpu.main - before.threadsCpu.main) / result.ok,
            others: (after.threadsCpu.others - before.threadsCpu.others) / result.ok,
          },
        }
      : {}),
    ...(before.databaseCpu !== undefined && after.databaseCpu !== undefined && result.ok > 0
      ? {
          databaseCpuPerRequest: {
            backends: (after.databaseCpu.backends - before.databaseCpu.backends) / result.ok,
            background: (after.databaseCpu.background - before.databaseCpu.background) / result.ok,
          },
        }
      : {}),
  };
}

/** `path` on every URL the target spreads its load over (autocannon shares the connections out). */
function urls(target: Target, path: string): string[] {
  return (target.issuers ?? [target.issuer]).map((issuer) => `${issuer}${path}`);
}

async function cannon(options: autocannon.Options) {
  const result = await autocannon(options);
  return { ok: result['2xx'], errors: result.errors + result.non2xx + result.timeouts, p50: result.latency.p50, p99: result.latency.p99, seconds: result.duration };
}

async function clientCredentialsToken(target: Target): Promise<string> {
  const response = await fetch(`${target.issuer}/token`, {
    method: 'POST',
    headers: { ...FORM, authorization: basicAuth('contacts-sync', target.demo['contacts-sync'] as string) },
    body: CLIENT_CREDENTIALS,
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

async function introspectActive(target: Target, token: string): Promise<boolean> {
  const response = await fetch(`${target.issuer}/token/introspection`, {
    method: 'POST',
    headers: { ...FORM, authorization: basicAuth('contacts-api', target.demo['contacts-api'] as string) },
    body: new URLSearchParams({ token }),
  });
  return ((await response.json()) as { active: boolean }).active;
}

const w1: Runner = {
  bare: true,
  async prepare() {
    return undefined;
  },
  measure: (target, _prepared, options, seconds) =>
    measured(target, () =>
      cannon({
        url: urls(target, '/token'),
        connections: options.connections,
        duration: seconds,
        method: 'POST',
        headers: { ...FORM, authorization: basicAuth('contacts-sync', target.demo['contacts-sync'] as string) },
        body: CLIENT_CREDENTIALS,
      }),
    ),
  async verify(target) {
    if (!(await introspectActive(target, await clientCredentialsToken(target)))) throw new Error('W1 token not active');
  },
};

const w2: Runner = {
  bare: true,
  async prepare(target) {
    // Users' access tokens for the contacts API, as its resource server sees them.
    const reader = await confidentialClient({ issuer: target.issuer }, 'contacts-reader', target.demo['contacts-reader'] as string);
    const agent = new UserAgent();
    const tokens: string[] = [];
    for (let i = 0; i < 200; i += 1) {
      const { tokens: issued } = await codeFlow(reader, { email: 'alice@example.com', password: 'latchkey-demo' }, { redirect_uri: REDIRECT, scope: 'contacts:read', resource: RESOURCE }, agent);
      tokens.push(issued.access_token);
    }
    return tokens;
  },
  measure(target, prepared, options, seconds) {
    const tokens = prepared as string[];
    let next = 0;
    const auth = basicAuth('contacts-api', target.demo['contacts-api'] as string);
    return measured(target, () =>
      cannon({
        url: urls(target, '/token/introspection'),
        connections: options.connections,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: '/token/introspection',
            setupRequest: (request) => ({
              ...request,
              headers: { ...FORM, authorization: auth },
              body: `token=${tokens[(next += 1) % tokens.length]}`,
            }),
            onResponse: (status, body) => {
              // An inactive answer is a 200 too: count it as an error.
              if (status === 200 && !(JSON.parse(body) as { active: boolean }).active) throw new Error('inactive token in W2');
            },
          },
        ],
      }),
    );
  },
  async verify(target, prepared) {
    if (!(await introspectActive(target, (prepared as string[])[0] as string))) throw new Error('W2 token not active');
  },
};

interface RefreshPool {
  unsent: string[];
  topUp(count: number): Promise<void>;
}

const w3: Runner = {
  bare: true,
  async prepare(target) {
    const reader = await confidentialClient({ issuer: target.issuer }, 'contacts-reader', target.demo['contacts-reader'] as string);
    // One user, one grant, one rotation chain each, as apps hold them. (Chains sharing one
    // grant would measure how a store copes with thousands of tokens per grant: oidc-provider's
    // memory adapter rescans a grant's members on every write and fell threefold run over run.)
    const users = await newUsers(target, 400, 'cheap');
    const unsent: string[] = [];
    return {
      unsent,
      async topUp(count: number) {
        while (unsent.length < count) {
          const { tokens } = await codeFlow(reader, users.next(), { redirect_uri: REDIRECT, scope: 'contacts:read', resource: RESOURCE });
          unsent.push(tokens.refresh_token as string);
        }
      },
    } satisfies RefreshPool;
  },
  async measure(target, prepared, options, seconds) {
    const pool = prepared as RefreshPool;
    // Each token is presented once; tokens in flight when a run stops are dropped, never reused.
    await pool.topUp(options.connections * 2);
    const auth = basicAuth('contacts-reader', target.demo['contacts-reader'] as string);
    return measured(target, () =>
      cannon({
        url: urls(target, '/token'),
        connections: options.connections,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: '/token',
            setupRequest: (request) => ({
              ...request,
              headers: { ...FORM, authorization: auth },
              body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(pool.unsent.pop() ?? 'exhausted')}`,
            }),
            onResponse: (status, body) => {
              if (status === 200) pool.unsent.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
            },
          },
        ],
      }),
    );
  },
  async verify(target, prepared) {
    const pool = prepared as RefreshPool;
    await pool.topUp(1);
    const response = await fetch(`${target.issuer}/token`, {
      method: 'POST',
      headers: { ...FORM, authorization: basicAuth('contacts-reader', target.demo['contacts-reader'] as string) },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: pool.unsent.pop() as string }),
    });
    const body = (await response.json()) as { access_token?: string };
    if (!body.access_token || !(await introspectActive(target, body.access_token))) throw new Error('W3 refresh did not give an active token');
  },
};

interface Users {
  next(): { email: string; password: string };
}

/**
 * A scrypt hash in the format server/services/passwords.ts stores and reads (parameters
 * included) at 1/96 of its cost (N=2^10, p=1 against 2^15 and 3). For W3, which signs its users
 * in only to start their refresh chains: at full cost those sign-ins were most of a smoke run's
 * time. W4 measures the sign-in and keeps the full cost.
 */
function cheapPasswordHash(password: string): string {
  const salt = crypto.randomBytes(16);
  const key = crypto.scryptSync(password.normalize('NFKC'), salt, 32, { N: 2 ** 10, r: 8, p: 1 });
  return `scrypt$${2 ** 10}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/**
 * `count` new users, inserted directly with one precomputed password hash (`cheap`: see
 * cheapPasswordHash). Bare oidc-provider has no user store: any name signs in there, so the
 * names alone do.
 */
async function newUsers(target: Target, count: number, cost: 'full' | 'cheap' = 'full'): Promise<Users> {
  const password = 'bench password';
  const run = crypto.randomBytes(4).toString('hex');
  const emails = Array.from({ length: count }, (_, i) => `bench-${run}-${i}@example.com`);
  let next = 0;
  const users = { next: () => ({ email: emails[next++ % emails.length] as string, password }) };
  if (!target.databaseUrl) return users;
  const hash = cost === 'cheap' ? cheapPasswordHash(password) : await hashPassword(password);
  const db = createDatabase(parseDatabaseUrl(target.databaseUrl));
  const rows = emails.map((email) => ({
    id: crypto.randomUUID(),
    email,
    name: null,
    email_verified: true,
    password_hash: hash,
    created_at: Date.now(),
    disabled_at: null,
  }));
  for (let i = 0; i < rows.length; i += 250) await db('users').insert(rows.slice(i, i + 250));
  await db.destroy();
  return users;
}

const w4: Runner = {
  bare: false,
  async prepare(target) {
    // New users, so consent is asked every time.
    return newUsers(target, 3000);
  },
  async measure(target, prepared, options, seconds) {
    const users = prepared as Users;
    const reader = await confidentialClient({ issuer: target.issuer }, 'contacts-reader', target.demo['contacts-reader'] as string);
    return measured(target, async () => {
      const latencies: number[] = [];
      let errors = 0;
      const started = performance.now();
      const deadline = started + seconds * 1000;
      await Promise.all(
        Array.from({ length: options.flowConcurrency }, async () => {
          while (performance.now() < deadline) {
            const flowStart = performance.now();
            try {
              await codeFlow(reader, users.next(), { redirect_uri: REDIRECT, scope: 'openid contacts:read', resource: RESOURCE });
              latencies.push(performance.now() - flowStart);
            } catch {
              errors += 1;
            }
          }
        }),
      );
      latencies.sort((a, b) => a - b);
      const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
      return { ok: latencies.length, errors, p50: at(0.5), p99: at(0.99), seconds: (performance.now() - started) / 1000 };
    });
  },
};

export const WORKLOADS: Record<Workload, Runner> = { W1: w1, W2: w2, W3: w3, W4: w4 };
