// The fuzz runner, shared by the vitest test and the command line. fast-check drives the
// generation (fixed seed, printed, overridable: the same seed gives the same request sequence);
// requests go out with bounded concurrency, so a case is one request and the property hands it to
// a pool instead of awaiting its answer. Every violation is collected (the run does not stop at
// the first) and grouped by likely root cause; the first case of each group is replayed alone
// from its seed and path, shrunk by fast-check, then simplified greedily to a small request that
// still fails the same way.
import http from 'node:http';
import fc from 'fast-check';
import type { RequestSpec } from './spec.ts';
import { CASES, type CaseSet } from './cases.ts';
import { materialize, send, type ConcreteRequest, type Observed } from './http.ts';
import { check, sameRedirectTarget, type CheckContext, type Violation } from './checks.ts';
import { LiveState, type FuzzFixtures } from './live-state.ts';

export const DEFAULT_SEED = 424242;

export interface FuzzOptions {
  runs: number;
  /** Which cases: every endpoint (default) or the admin API only. */
  cases?: CaseSet;
  seed?: number;
  baseUrl: string;
  fixtures: FuzzFixtures;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Per-request limit before it counts as a hang (default 15 s). */
  timeoutMs?: number;
  /** Top up interactions, codes and sessions every this many cases (default 500). */
  replenishEvery?: number;
  /** How many distinct failures to replay and shrink (default 3; each costs a few sequential requests). */
  minimize?: number;
  /** Time budget for shrinking one failure (default 20 s). */
  minimizeMs?: number;
  onProgress?(progress: FuzzProgress): void;
  /** Cases between progress reports (default 1000). */
  progressEvery?: number;
}

export interface FuzzProgress {
  done: number;
  runs: number;
  elapsedMs: number;
  casesPerSecond: number;
  failures: number;
}

export interface FuzzFailure {
  /** fast-check path: replay with `{ seed, path }` (fuzz-cli.ts --replay). */
  path: string;
  /** The request was simplified further after fast-check's shrinking (the path gives the unsimplified one). */
  simplified?: boolean;
  signature: string;
  request: ConcreteRequest;
  spec: RequestSpec;
  observed: Observed;
  violations: Violation[];
}

export interface FailureGroup {
  signature: string;
  count: number;
  /** Where it was seen: target, method and status. */
  seenOn: string[];
  first: FuzzFailure;
  /** The same failure, shrunk by fast-check (when minimised and reproduced). */
  minimal?: FuzzFailure;
}

export interface FuzzResult {
  seed: number;
  runs: number;
  durationMs: number;
  casesPerSecond: number;
  statuses: Record<string, number>;
  byTarget: Record<string, Record<string, number>>;
  /** Response time per target (ms): median, 95th percentile, maximum. */
  latency: Record<string, { p50: number; p95: number; max: number }>;
  /** The slowest exchanges of the run. */
  slowest: Array<{ ms: number; status: number; request: string }>;
  failureCount: number;
  groups: FailureGroup[];
  /** Discovery still answers after the run (the server did not crash or wedge). */
  aliveAfter: { ok: boolean; detail: string };
  live: { replenished: number; replenishFailures: string[]; serverErrors: Array<{ method: string; path: string; status: number; body: string }> };
}

class Pool {
  #active = 0;
  #waiting: Array<() => void> = [];
  #idle: Array<() => void> = [];
  constructor(readonly size: number) {}

  async acquire(): Promise<void> {
    if (this.#active < this.size) {
      this.#active += 1;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) return next();
    this.#active -= 1;
    if (this.#active === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  async drain(): Promise<void> {
    if (this.#active === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}

/** Stands in for the generated spec of a failure the fuzzer did not generate. */
const anyRequestPlaceholder: RequestSpec = {
  target: 'interaction',
  method: 'GET',
  path: { t: 'fixed', path: '/' },
  query: [],
  body: { t: 'none' },
  contentType: 'auto',
  auth: { t: 'none' },
  cookie: { t: 'none' },
  accept: undefined,
  headers: [],
  chunked: false,
};

const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/**
 * Groups violations by likely root cause: one group per kind and what distinguishes causes of
 * that kind (the response's content type for a missing OAuth error body, the pattern for a leak,
 * the endpoint and method for a 5xx; any endpoint for a 5xx caused by an unusual method).
 */
export function signatureOf(request: ConcreteRequest, observed: Observed, violation: Violation): string {
  const type = String(observed.headers['content-type'] ?? '').split(';')[0] || 'no content-type';
  const status = observed.status || 'no status';
  switch (violation.kind) {
    case 'server-error':
      return STANDARD_METHODS.has(request.method)
        ? `server-error | ${request.target} ${request.method} | ${status} ${type}`
        : `server-error | any endpoint, method ${request.method} | ${status} ${type}`;
    case 'no-response':
      return `no-response | ${request.target} ${request.method} | ${violation.detail.split(':')[0]}`;
    case 'internal-detail':
      return `internal-detail | ${request.target} | ${violation.detail.split(': ')[0]}`;
    case 'oauth-error-body':
      return `oauth-error-body | OAuth JSON endpoints | 4xx ${type} | ${violation.detail.split(': ')[1]?.split(/[:(]/)[0]?.trim()}`;
    case 'html-security-headers':
      return `html-security-headers | ${request.target} | ${status} | ${violation.detail}`;
    case 'admin-error-body':
      return `admin-error-body | ${request.admin?.route?.operationId ?? 'admin path'} ${STANDARD_METHODS.has(request.method) ? '' : 'unusual method '}| ${status} ${type}`;
    case 'admin-no-fields':
      return `admin-no-fields | ${request.admin?.route?.operationId ?? '?'} | ${observed.body.replace(/"error_description":"[^"]*"/, '').slice(0, 60)}`;
    case 'admin-access':
      return `admin-access | ${request.admin?.credential ?? '?'} ${request.admin?.route?.operationId ?? request.method} | ${status}`;
    default:
      return `${violation.kind} | ${request.target} | ${status}`;
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const seed = options.seed ?? DEFAULT_SEED;
  const concurrency = options.concurrency ?? 8;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const replenishEvery = options.replenishEvery ?? 500;
  const progressEvery = options.progressEvery ?? 1000;
  const base = new URL(options.baseUrl);
  const cases = CASES[options.cases ?? 'all'];
  const live = new LiveState(options.baseUrl.replace(/\/$/, ''), options.fixtures);
  await live.prepare();
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, keepAliveMsecs: 1000 });
  const context: CheckContext = {
    issuer: live.baseUrl,
    isRegisteredRedirect: (url) => [...live.registeredRedirects].some((uri) => sameRedirectTarget(uri, url)),
  };

  const statuses: Record<string, number> = {};
  const byTarget: Record<string, Record<string, number>> = {};
  const groups = new Map<string, FailureGroup>();
  const times: Record<string, number[]> = {};
  const slowest: FuzzResult['slowest'] = [];
  let failureCount = 0;

  function record(signature: string, failure: Omit<FuzzFailure, 'signature'>) {
    const where = `${failure.request.target} ${failure.request.method} → ${failure.observed.status || 'no response'}`;
    const group = groups.get(signature);
    if (group) {
      group.count += 1;
      if (!group.seenOn.includes(where) && group.seenOn.length < 20) group.seenOn.push(where);
    } else {
      groups.set(signature, { signature, count: 1, seenOn: [where], first: { ...failure, signature } });
    }
  }

  async function exchange(spec: RequestSpec) {
    const request = materialize(spec, live);
    const observed = await send(base, request, agent, timeoutMs);
    if (!observed.transportError) live.learn(request, observed.status, String(observed.headers['content-type'] ?? ''), observed.body);
    else if (!observed.transportError.startsWith('client:')) live.admin.learn(request, undefined);
    return { request, observed, violations: check(request, observed, context) };
  }

  const pool = new Pool(concurrency);
  const started = performance.now();
  let index = 0;
  let done = 0;
  const property = fc.asyncProperty(cases, async (spec) => {
    const path = String(index);
    index += 1;
    if (index > 1 && index % replenishEvery === 0) await live.replenish();
    await pool.acquire();
    void exchange(spec)
      .then(({ request, observed, violations }) => {
        const status = observed.transportError ? (observed.transportError.startsWith('client:') ? 'not sent' : 'no response') : String(observed.status);
        statuses[status] = (statuses[status] ?? 0) + 1;
        const target = (byTarget[spec.target] ??= {});
        target[status] = (target[status] ?? 0) + 1;
        (times[spec.target] ??= []).push(observed.ms);
        if (slowest.length < 5 || observed.ms > (slowest.at(-1)?.ms ?? 0)) {
          slowest.push({ ms: Math.round(observed.ms), status: observed.status, request: `${request.method} ${request.path.slice(0, 120)} (${request.body?.length ?? 0} B body${request.body?.length ? `: ${request.body.toString('utf8').slice(0, 100)}` : ''})` });
          slowest.sort((a, b) => b.ms - a.ms).splice(5);
        }
        if (violations.length) failureCount += 1;
        for (const violation of violations) record(signatureOf(request, observed, violation), { path, request, spec, observed, violations });
      })
      .catch((error: unknown) => {
        // A bug in the fuzzer itself, not a server failure: make it loud.
        record(`fuzzer-error | ${(error as Error).message}`, {
          path,
          spec,
          request: { target: spec.target, method: spec.method, path: '?', headers: {}, body: undefined, chunked: false, oversized: false, onEndpoint: false },
          observed: { status: 0, headers: {}, body: String((error as Error).stack), ms: 0 },
          violations: [],
        });
      })
      .finally(() => {
        done += 1;
        pool.release();
        if (done % progressEvery === 0 && options.onProgress) {
          const elapsedMs = performance.now() - started;
          options.onProgress({ done, runs: options.runs, elapsedMs, casesPerSecond: (done / elapsedMs) * 1000, failures: failureCount });
        }
      });
    return true;
  });
  await fc.check(property, { seed, numRuns: options.runs });
  await pool.drain();
  const durationMs = performance.now() - started;

  // The live state's own valid flows are requests too: a 5xx there is a server failure.
  for (const error of live.stats.serverErrors) {
    const request: ConcreteRequest = { target: 'interaction', method: error.method, path: error.path, headers: {}, body: undefined, chunked: false, oversized: false, onEndpoint: true };
    const observed: Observed = { status: error.status, headers: {}, body: error.body, ms: 0 };
    record(`server-error | valid flow (live state) ${error.method} ${error.path.replace(/\/[A-Za-z0-9_-]{16,}/g, '/:id')} | ${error.status}`, {
      path: '(live state)',
      spec: anyRequestPlaceholder,
      request,
      observed,
      violations: [{ kind: 'server-error', detail: `status ${error.status} on a valid request` }],
    });
  }

  // The admin API's ledger and audit trail, now that nothing is in flight (admin-state.ts).
  let adminProblems: string[];
  try {
    adminProblems = await live.admin.verify();
  } catch (error) {
    adminProblems = [`the check itself failed: ${(error as Error).message}`];
  }
  for (const problem of adminProblems) {
    const request: ConcreteRequest = { target: 'admin', method: 'GET', path: '/admin/v1/audit', headers: {}, body: undefined, chunked: false, oversized: false, onEndpoint: true };
    record(`admin-ledger | ${problem.replace(/\d+/g, 'N').replace(/"[^"]*"|\b(app|dyn)_\S+/g, 'X')}`, {
      path: '(after the run)',
      spec: anyRequestPlaceholder,
      request,
      observed: { status: 0, headers: {}, body: problem, ms: 0 },
      violations: [{ kind: 'admin-ledger', detail: problem }],
    });
  }

  const aliveAfter = await discoveryAnswers(live.baseUrl);

  const sorted = [...groups.values()].sort((a, b) => b.count - a.count);
  // Minimise one group of each kind first (the 501s of three methods are one cause, say).
  const cause = (g: FailureGroup) => g.signature.replace(/method \S+/, 'method').split(' | ').slice(0, 2).join(' | ');
  const firstOfCause = sorted.filter((g, i) => sorted.findIndex((h) => cause(h) === cause(g)) === i);
  const order = [...firstOfCause, ...sorted.filter((g) => !firstOfCause.includes(g))];
  for (const group of order.slice(0, options.minimize ?? 3)) {
    if (group.signature.startsWith('fuzzer-error') || group.first.path.startsWith('(')) continue;
    group.minimal = await minimize(group, { seed, cases, exchange, timeMs: options.minimizeMs ?? 20_000 });
  }
  agent.destroy();

  return {
    seed,
    runs: options.runs,
    durationMs,
    casesPerSecond: (options.runs / durationMs) * 1000,
    statuses,
    byTarget,
    latency: Object.fromEntries(Object.entries(times).map(([target, list]) => [target, percentiles(list)])),
    slowest,
    failureCount,
    groups: sorted,
    aliveAfter,
    live: live.stats,
  };
}

type Exchange = (spec: RequestSpec) => Promise<{ request: ConcreteRequest; observed: Observed; violations: Violation[] }>;

/**
 * Replays the group's first case alone from its seed and path and lets fast-check shrink it (time
 * boxed), then simplifies the result greedily (drop headers, cookie, credentials, parameters one
 * by one...) while it still fails the same way.
 */
async function minimize(
  group: FailureGroup,
  { seed, cases, exchange, timeMs }: { seed: number; cases: fc.Arbitrary<RequestSpec>; exchange: Exchange; timeMs: number },
): Promise<FuzzFailure | undefined> {
  const deadline = performance.now() + timeMs;
  let smallest: FuzzFailure | undefined;
  const fails = async (spec: RequestSpec): Promise<FuzzFailure | undefined> => {
    const { request, observed, violations } = await exchange(spec);
    const same = violations.some((v) => signatureOf(request, observed, v) === group.signature);
    return same ? { path: group.first.path, signature: group.signature, request, spec, observed, violations } : undefined;
  };
  const property = fc.asyncProperty(cases, async (spec) => {
    const failure = await fails(spec);
    if (failure && (!smallest || JSON.stringify(spec).length <= JSON.stringify(smallest.spec).length)) smallest = failure;
    return !failure;
  });
  const details = await fc.check(property, { seed, path: group.first.path, numRuns: 1, plugins: [fc.interruptAfterTimeLimit(timeMs / 2)] });
  if (!smallest) return undefined;
  const shrunkPath = details.counterexamplePath ?? group.first.path;
  smallest.path = shrunkPath;

  for (let changed = true; changed && performance.now() < deadline; ) {
    changed = false;
    for (const candidate of simpler(smallest.spec)) {
      if (performance.now() > deadline) break;
      const failure = await fails(candidate);
      if (failure) {
        smallest = { ...failure, path: shrunkPath, simplified: true };
        changed = true;
        break;
      }
    }
  }
  return smallest;
}

/** Each candidate removes or resets one thing. */
function* simpler(spec: RequestSpec): Generator<RequestSpec> {
  if (spec.headers.length) yield { ...spec, headers: [] };
  for (let i = 0; i < spec.headers.length; i += 1) yield { ...spec, headers: spec.headers.filter((_, j) => j !== i) };
  if (spec.accept !== undefined) yield { ...spec, accept: undefined };
  if (spec.cookie.t !== 'none') yield { ...spec, cookie: { t: 'none' } };
  if (spec.auth.t !== 'none') yield { ...spec, auth: { t: 'none' } };
  if (spec.chunked) yield { ...spec, chunked: false };
  if (spec.contentType !== 'auto') yield { ...spec, contentType: 'auto' };
  if (spec.body.t !== 'none') yield { ...spec, body: { t: 'none' } };
  if (spec.query.length) yield { ...spec, query: [] };
  for (let i = 0; i < spec.query.length; i += 1) yield { ...spec, query: spec.query.filter((_, j) => j !== i) };
  if (spec.body.t === 'form') {
    const params = spec.body.params;
    for (let i = 0; i < params.length; i += 1) yield { ...spec, body: { t: 'form', params: params.filter((_, j) => j !== i) } };
  }
  if (spec.body.t === 'json' && spec.body.value.t === 'obj') {
    const entries = spec.body.value.entries;
    for (let i = 0; i < entries.length; i += 1) yield { ...spec, body: { t: 'json', value: { t: 'obj', entries: entries.filter((_, j) => j !== i) } } };
  }
}

/** Sends one generated case again, alone, against a server (fuzz-cli.ts --replay). */
export async function replayCase(options: { seed: number; path: string; baseUrl: string; fixtures: FuzzFixtures; cases?: CaseSet }): Promise<FuzzFailure> {
  const live = new LiveState(options.baseUrl.replace(/\/$/, ''), options.fixtures);
  await live.prepare();
  const [spec] = fc.sample(CASES[options.cases ?? 'all'], { seed: options.seed, path: options.path, numRuns: 1 });
  if (!spec) throw new Error(`no case at path ${options.path}`);
  const agent = new http.Agent({ keepAlive: false });
  try {
    const request = materialize(spec, live);
    const observed = await send(new URL(options.baseUrl), request, agent, 15_000);
    const context: CheckContext = { issuer: live.baseUrl, isRegisteredRedirect: (url) => [...live.registeredRedirects].some((uri) => sameRedirectTarget(uri, url)) };
    const violations = check(request, observed, context);
    const signature = violations.map((v) => signatureOf(request, observed, v)).join('; ') || 'no violation';
    return { path: options.path, signature, request, spec, observed, violations };
  } finally {
    agent.destroy();
  }
}

function percentiles(list: number[]): { p50: number; p95: number; max: number } {
  const sorted = [...list].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { p50: at(0.5), p95: at(0.95), max: Math.round(sorted.at(-1) ?? 0) };
}

async function discoveryAnswers(baseUrl: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const response = await fetch(`${baseUrl}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
    const json = (await response.json()) as { issuer?: string };
    return { ok: response.status === 200 && json.issuer === baseUrl, detail: `${response.status} issuer=${json.issuer}` };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  }
}

