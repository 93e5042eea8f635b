// What the benchmarks add to the server (BENCH_MODE, read by bench/server.ts, their own entry;
// the production entry never loads this file): either oidc-provider's in-memory adapter for the
// provider's models (the same-run baseline of bench/) or our Knex adapter, plus GET /bench/stats
// to read SQL statement counts and memory. Users, clients and resource servers stay in the
// database in both modes.
import fs from 'node:fs';
import v8 from 'node:v8';
import type { Knex } from 'knex';
import type { Adapter } from 'oidc-provider';
import MemoryAdapter, { setStorage } from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import Router from '@koa/router';
import type { Instrumentation } from '../server/app.ts';

export type BenchMode = 'memory' | 'knex';

/** Linux's USER_HZ: /proc reports thread CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (µs) of the main thread and of every other thread together (V8's GC helpers, the
 * thread pool where sqlite3 runs its statements), from /proc; undefined where there is none.
 * process.cpuUsage() sums them, which hides whether a cost is JavaScript or the driver's.
 */
function threadsCpu(): { main: number; others: number } | undefined {
  const dir = '/proc/self/task';
  if (!fs.existsSync(dir)) return undefined;
  const result = { main: 0, others: 0 };
  for (const tid of fs.readdirSync(dir)) {
    let stat: string;
    try {
      stat = fs.readFileSync(`${dir}/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    // Fields after the parenthesised name: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const micros = ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / TICKS_PER_SECOND;
    if (Number(tid) === process.pid) result.main += micros;
    else result.others += micros;
  }
  return result;
}

export function readBenchMode(env: Record<string, string | undefined>, production: boolean): BenchMode {
  const raw = env.BENCH_MODE?.trim();
  if (production) throw new Error('the benchmark server is refused in production (NODE_ENV=production)');
  if (!raw) return 'knex';
  if (raw !== 'memory' && raw !== 'knex') throw new Error(`BENCH_MODE must be memory or knex, got ${JSON.stringify(raw)}`);
  return raw;
}

/**
 * oidc-provider's memory adapter with room for the benchmark's working set: its default LRU
 * holds 1,000 entries, too few for W2's 200 tokens with their grants and sessions under 32
 * connections. 50,000 keeps every token a workload reads again (the benchmark counts any miss
 * as an error) without holding every token ever issued, which would turn the baseline into a
 * garbage-collector benchmark (seen here: 5,000,000 grew the heap past 500 MiB and W3 slowed
 * threefold run over run).
 */
export function memoryStorage(clients: { adapter(): Adapter }): { adapter: (model: string) => Adapter; redemptions: Adapter; graceSlots: Adapter } {
  sizeMemoryStorage();
  return {
    adapter: (model) => (model === 'Client' ? clients.adapter() : new MemoryAdapter(model)),
    redemptions: new MemoryAdapter('Redemption'),
    // Not insert-only: the baseline does not cap grace replays (no benchmark replays a token).
    graceSlots: new MemoryAdapter('GraceReplay'),
  };
}

/**
 * Gives oidc-provider's memory adapter its LRU of 50,000 entries (see memoryStorage). The bare
 * oidc-provider baseline (bench/bare-provider.ts) sizes it here too, so both baselines keep the
 * same working set.
 */
export function sizeMemoryStorage(): void {
  setStorage(new LRU({ maxSize: 50_000 }));
}

/** The hooks the benchmark server runs with (server/app.ts, Instrumentation). */
export function benchInstrumentation(db: Knex, mode: BenchMode): Instrumentation {
  const counter = countStatements(db);
  return {
    onStatement: (sql) => counter.add(1, sql),
    providerStorage: mode === 'memory' ? memoryStorage : undefined,
    routes: benchRoutes(counter, mode),
  };
}

export interface StatementCounter {
  count(): number;
  add(n?: number, sql?: string): void;
  /** Statements by their SQL text (whitespace collapsed), most frequent first. */
  byStatement(): Array<{ sql: string; count: number }>;
}

/** Counts every statement Knex sends (raw ones included), and which statements they were. */
export function countStatements(db: Knex): StatementCounter {
  let total = 0;
  const bySql = new Map<string, number>();
  const add = (n = 1, sql = '(other)') => {
    total += n;
    // Literals inlined by the limiter's driver calls are folded so equal statements group.
    const text = sql
      .replace(/'[^']*'/g, '?')
      .replace(/\b\d+(\.\d+)?\b/g, '?')
      .replace(/\s+/g, ' ')
      .slice(0, 300);
    bySql.set(text, (bySql.get(text) ?? 0) + n);
  };
  db.on('query', (query: { sql?: string }) => add(1, query.sql));
  return {
    count: () => total,
    add,
    byStatement: () => [...bySql].map(([sql, count]) => ({ sql, count })).sort((a, b) => b.count - a.count),
  };
}

/** `mode` is reported as is: BENCH_MODE for our server, `bare` for bench/bare-provider.ts. */
export function benchRoutes(counter: StatementCounter, mode: BenchMode | 'bare'): Router {
  const router = new Router();
  router.get('/bench/stats', (ctx) => {
    const memory = process.memoryUsage();
    ctx.body = {
      mode,
      statements: counter.count(),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      heapLimit: v8.getHeapStatistics().heap_size_limit,
      cpu: process.cpuUsage(),
      threadsCpu: threadsCpu(),
      ...(ctx.query.detail === '1' ? { byStatement: counter.byStatement() } : {}),
    };
  });
  return router;
}
