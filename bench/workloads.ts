// The four workloads of issue 6 (how a run is measured: measure.ts; their users: users.ts).
//   W1 client_credentials token requests (contacts-sync).
//   W2 introspection of opaque access tokens by their resource server (contacts-api).
//   W3 refresh with rotation, a fresh refresh token per request (each is presented once).
//   W4 full code + PKCE flows: login (scrypt), consent (a new user each time), token.
import { codeFlow, confidentialClient } from '../test/helpers/oauth.ts';
import { UserAgent } from '../test/helpers/user-agent.ts';
import { basicAuth } from '../test/helpers/server-process.ts';
import { cannon, measured, urls, type Measurement } from './measure.ts';
import type { Target } from './target.ts';
import { newUsers, type Users } from './users.ts';

export type { Measurement } from './measure.ts';

export type Workload = 'W1' | 'W2' | 'W3' | 'W4';

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
  /**
   * Work each run needs before its load starts (W3 signs users in for fresh refresh tokens);
   * measure() does it too, and a profile calls it first so that it falls outside its window.
   */
  beforeRun?(prepared: unknown, options: Options): Promise<void>;
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
  async beforeRun(prepared, options) {
    // Each token is presented once; tokens in flight when a run stops are dropped, never reused.
    await (prepared as RefreshPool).topUp(options.connections * 2);
  },
  async measure(target, prepared, options, seconds) {
    const pool = prepared as RefreshPool;
    await w3.beforeRun?.(pool, options);
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
