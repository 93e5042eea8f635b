// What checking a token costs an API that uses latchkey/resource-server, per check by its
// middleware (the node:http guard of resourceServer(), `rs.node('contacts:read')`, the adapter
// the Koa and Express ones share everything with but the framework's request and response):
//   - a JWT access token verified offline (RFC 9068; no call to the issuer once the keys are in);
//   - a user's JWT access token issued under a grant: the same, plus its bit in the resource
//     server's status list (draft-ietf-oauth-status-list; the list fetched once and kept for its
//     ttl, as an API keeps it);
//   - a DPoP-bound JWT access token (RFC 9449): the same, plus the request's proof (signature,
//     htm/htu, iat, ath, key thumbprint, jti remembered). The proofs are signed before the clock
//     starts, as a client signs its own; the row counts only the API's side;
//   - an opaque token introspected with the cache off (every check a round trip to the issuer);
//   - an opaque token with the default 5 s cache (a round trip every 5 s per token).
// The issuer is the real server (the benchmarks' bundle, as bench/target.ts starts it) on a
// SQLite file on loopback; the middleware runs here, on request objects shaped as node:http
// gives them (no socket: the API's own HTTP parsing is not counted), and any refusal it would
// answer fails the run. Besides the rate, each row says how many introspection
// requests (undici's diagnostics channel) and issuer SQL statements (/bench/stats) a check cost.
//
//   npx tsx bench/middleware.ts [--seconds 5] [--concurrency 1]
//
// --concurrency N runs N checks at a time, each worker with its own token (concurrent checks of
// one token would share one introspection request, which is the cache-off row's point to avoid).
import crypto from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { parseDatabaseUrl } from '../server/config/env.ts';
import { createDatabase } from '../server/db/knex.ts';
import { basicAuth } from '../test/helpers/server-process.ts';
import { codeFlow, confidentialClient } from '../test/helpers/oauth.ts';
import { UserAgent } from '../test/helpers/user-agent.ts';
import { resourceServer, type NodeGuard, type ResourceServerOptions } from '../resource-server/index.ts';
import { machineLines } from './machine.ts';
import { startTarget, type ServerTarget, type Target } from './target.ts';

const RESOURCE = 'https://contacts-api.example';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '1' } } });
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
if (!(seconds > 0) || !Number.isInteger(concurrency) || concurrency < 1) throw new Error('--seconds must be > 0 and --concurrency a whole number ≥ 1');
// The DPoP row's proofs are signed before it starts and must still be within the verifier's 60 s.
if (seconds > 20) throw new Error('--seconds at most 20: presigned DPoP proofs must stay younger than 60 s');

const API_HOST = '127.0.0.1';
const API_URL = `http://${API_HOST}/contacts`;
/** A redirect URI registered for the demo's contacts-reader (bench/workloads.ts uses the same). */
const REDIRECT = 'http://127.0.0.1:8080/callback';

interface ProofKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

function proof(key: ProofKey, htm: string, htu: string, accessToken?: string): Promise<string> {
  return new SignJWT({ htm, htu, jti: crypto.randomUUID(), ...(accessToken ? { ath: crypto.createHash('sha256').update(accessToken).digest('base64url') } : {}) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt()
    .sign(key.privateKey);
}

async function serviceToken(target: Target, key?: ProofKey): Promise<string> {
  const response = await fetch(`${target.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuth('contacts-sync', target.demo['contacts-sync'] as string),
      'content-type': 'application/x-www-form-urlencoded',
      ...(key ? { dpop: await proof(key, 'POST', `${target.issuer}/token`) } : {}),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'contacts:read', resource: RESOURCE }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** A DPoP-bound token and the key it is bound to. */
interface BoundToken {
  token: string;
  key: ProofKey;
}

/**
 * One opaque token set and one JWT set for the same resource server: the demo's contacts API
 * issues opaque tokens; switching its format in the database (the server re-reads resource
 * servers within a second) makes the next tokens JWTs, while the opaque ones stay valid. Then a
 * DPoP-bound JWT set: each token requested with a proof by a key of its own.
 */
async function tokens(target: ServerTarget): Promise<{ opaque: string[]; jwt: string[]; bound: BoundToken[]; userJwt: string[] }> {
  const opaque = await Promise.all(Array.from({ length: concurrency }, () => serviceToken(target)));
  const db = createDatabase(parseDatabaseUrl(target.databaseUrl));
  try {
    await db('resource_servers').where({ id: RESOURCE }).update({ token_format: 'jwt' });
  } finally {
    await db.destroy();
  }
  const deadline = Date.now() + 10_000;
  let first = await serviceToken(target);
  while (!first.includes('.') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    first = await serviceToken(target);
  }
  if (!first.includes('.')) throw new Error('the issuer did not switch to JWT access tokens');
  const jwt = [first, ...(await Promise.all(Array.from({ length: concurrency - 1 }, () => serviceToken(target))))];
  if (opaque.some((t) => t.includes('.'))) throw new Error('expected opaque tokens first');
  const bound = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const key = { privateKey, jwk: await exportJWK(publicKey) };
      const token = await serviceToken(target, key);
      const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { cnf?: { jkt?: string } };
      if (claims.cnf?.jkt !== (await calculateJwkThumbprint(key.jwk))) throw new Error('expected a DPoP-bound JWT (cnf.jkt)');
      return { token, key };
    }),
  );
  // Users' JWTs (alice's, through the code flow of contacts-reader): issued under a grant, so
  // each names an index in the contacts API's status list.
  const reader = await confidentialClient({ issuer: target.issuer }, 'contacts-reader', target.demo['contacts-reader'] as string);
  const agent = new UserAgent();
  const userJwt: string[] = [];
  for (let i = 0; i < concurrency; i += 1) {
    const { tokens: issued } = await codeFlow(reader, { email: 'alice@example.com', password: 'latchkey-demo' }, { redirect_uri: REDIRECT, scope: 'contacts:read', resource: RESOURCE }, agent);
    const claims = JSON.parse(Buffer.from(issued.access_token.split('.')[1] as string, 'base64url').toString()) as { status?: { status_list?: { idx?: number } } };
    if (typeof claims.status?.status_list?.idx !== 'number') throw new Error('expected a user JWT with a status list reference');
    userJwt.push(issued.access_token);
  }
  return { opaque, jwt, bound, userJwt };
}

/** What node:http hands the guard: method, target and headers (Host, Authorization, DPoP). */
function incoming(request: { method: string; authorization: string; dpop?: string }): IncomingMessage {
  const headers: Record<string, string> = { host: API_HOST, authorization: request.authorization, ...(request.dpop ? { dpop: request.dpop } : {}) };
  return { method: request.method, url: '/contacts', headers, headersDistinct: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])), socket: {} } as unknown as IncomingMessage;
}

/** A response the guard must not write to: it writes only to refuse. */
const UNANSWERED = new Proxy({} as ServerResponse, {
  get(_target, property) {
    throw new Error(`the middleware answered the request (${String(property)}): a refusal`);
  },
});

/** One check by the middleware: resolves once it has accepted the token. */
async function check(guard: NodeGuard, request: { method: string; authorization: string; dpop?: string }): Promise<void> {
  const token = await guard(incoming(request), UNANSWERED);
  if (!token) throw new Error('the middleware refused the token');
}

/** A request with the Bearer scheme, or with the DPoP scheme and the next of its proofs. */
type Presenter = (token: string) => { method: string; url: string; authorization: string; dpop?: string } | undefined;

const bearer: Presenter = (token) => ({ method: 'GET', url: API_URL, authorization: `Bearer ${token}` });

/**
 * Proofs signed ahead for each bound token, so signing (the client's work) stays off the clock:
 * three times as many as a check can use in `seconds`, from a calibration that verifies a
 * presigned batch (a row that still runs out ends early, its rate over the time it ran). Each
 * proof is used once.
 */
async function presignedProofs(guard: NodeGuard, set: BoundToken[]): Promise<Presenter> {
  const [first] = set as [BoundToken];
  const batch = await Promise.all(Array.from({ length: 2000 }, () => proof(first.key, 'GET', API_URL, first.token)));
  const started = performance.now();
  for (const dpop of batch) await check(guard, { method: 'GET', authorization: `DPoP ${first.token}`, dpop });
  const perSecond = batch.length / ((performance.now() - started) / 1000);
  const perToken = Math.ceil(perSecond * seconds * 3) + 100;
  const pools = new Map<string, string[]>();
  for (const { token, key } of set) pools.set(token, await Promise.all(Array.from({ length: perToken }, () => proof(key, 'GET', API_URL, token))));
  return (token) => {
    const dpop = pools.get(token)?.pop();
    return dpop ? { method: 'GET', url: API_URL, authorization: `DPoP ${token}`, dpop } : undefined;
  };
}

interface Row {
  scenario: string;
  checks: number;
  elapsedMs: number;
  latenciesUs: number[];
  introspections: number;
  statements: number;
}

async function statements(target: Target): Promise<number> {
  return (await target.stats()).statements;
}

async function measure(target: Target, scenario: string, guard: NodeGuard, tokenSet: string[], present: Presenter = bearer): Promise<Row> {
  // Warm-up: discovery, keys, first introspection, the status list; and a check that every token is accepted.
  for (const token of tokenSet) await check(guard, present(token) as NonNullable<ReturnType<Presenter>>);
  let introspections = 0;
  const count = (message: unknown) => {
    if ((message as { request: { path: string } }).request.path.startsWith('/token/introspection')) introspections += 1;
  };
  diagnostics.subscribe('undici:request:create', count);
  const statementsBefore = await statements(target);
  const latenciesUs: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    tokenSet.map(async (token) => {
      while (performance.now() < until) {
        const request = present(token);
        // Out of presigned proofs (the calibration ran faster than the row): the row ends here,
        // its rate still checks over the time they took.
        if (!request) break;
        const t0 = performance.now();
        await check(guard, request);
        latenciesUs.push((performance.now() - t0) * 1000);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  diagnostics.unsubscribe('undici:request:create', count);
  return { scenario, checks: latenciesUs.length, elapsedMs, latenciesUs, introspections, statements: (await statements(target)) - statementsBefore };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function table(rows: Row[]): string {
  const lines = [
    `| middleware check (concurrency ${concurrency}, ${seconds} s each) | checks/s | µs per check | p50 µs | p99 µs | introspection requests per check (total) | issuer SQL statements per check |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const sorted = [...row.latenciesUs].sort((a, b) => a - b);
    const rate = row.checks / (row.elapsedMs / 1000);
    lines.push(
      `| ${row.scenario} | ${Math.round(rate).toLocaleString('en-US')} | ${(1e6 / rate).toFixed(1)} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ` +
        `${(row.introspections / row.checks).toFixed(3)} (${row.introspections}) | ${(row.statements / row.checks).toFixed(3)} |`,
    );
  }
  return lines.join('\n');
}

const machine = machineLines();
const target = await startTarget('sqlite', undefined);
try {
  const set = await tokens(target);
  const base: ResourceServerOptions = { issuer: target.issuer, resource: RESOURCE, clientId: 'contacts-api', clientSecret: target.demo['contacts-api'] as string };
  // Each row its own resourceServer(), as an API has one: no row finds another's caches warm.
  const guard = (options: Partial<ResourceServerOptions> = {}) => resourceServer({ ...base, ...options }).node('contacts:read');
  const dpopGuard = guard();
  const rows = [
    await measure(target, 'JWT (client credentials, no status claim), verified offline', guard(), set.jwt),
    await measure(target, "user's JWT under a grant, verified offline + status list bit", guard(), set.userJwt),
    await measure(target, 'DPoP-bound JWT, verified offline with its proof', dpopGuard, set.bound.map((b) => b.token), await presignedProofs(dpopGuard, set.bound)),
    await measure(target, 'opaque, introspection cache off', guard({ introspectionCacheSeconds: 0 }), set.opaque),
    await measure(target, 'opaque, default cache (5 s)', guard(), set.opaque),
  ];
  console.log(`\n${machine.join('\n')}\n- latchkey/resource-server's node:http guard; the issuer on SQLite (child process, loopback)\n`);
  console.log(table(rows));
} finally {
  await target.stop();
}
