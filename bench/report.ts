// The benchmark's table and its goals, each marked met or missed: issue 6's against our own
// server's in-memory mode, the operations issue's against bare oidc-provider.
import type { TargetKind } from './target.ts';
import type { Measurement, Workload } from './workloads.ts';

type Results = Partial<Record<TargetKind, Record<Workload, Measurement[]>>>;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function summary(runs: Measurement[]) {
  return {
    rate: median(runs.map((r) => r.rate)),
    perCpuSecond: median(runs.map((r) => r.perCpuSecond)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    rss: Math.max(...runs.map((r) => r.rss)),
    statements: median(runs.map((r) => r.statementsPerRequest)),
  };
}

/**
 * A store against a baseline (the memory adapter, or bare oidc-provider): the median of the
 * ratios of runs measured one after the other (bench/run.ts interleaves them), so the machine's
 * drift over a run cancels out.
 */
export function pairedRatio(runs: Measurement[], baseline: Measurement[], key: 'rate' | 'perCpuSecond'): number {
  const pairs = Math.min(runs.length, baseline.length);
  return median(Array.from({ length: pairs }, (_, i) => (runs[i] as Measurement)[key] / (baseline[i] as Measurement)[key]));
}

const UNIT: Record<Workload, string> = { W1: 'req', W2: 'req', W3: 'req', W4: 'flow' };
const NAME: Record<Workload, string> = {
  W1: 'W1 client_credentials',
  W2: 'W2 introspection',
  W3: 'W3 refresh (rotation)',
  W4: 'W4 code + PKCE flow',
};

/** "rate× / per-CPU-s×" against `baseline`, or blank where there is none. */
function ratioCell(runs: Measurement[], baseline: Measurement[] | undefined): string {
  if (!baseline?.length) return '';
  return `${pairedRatio(runs, baseline, 'rate').toFixed(2)}× / ${pairedRatio(runs, baseline, 'perCpuSecond').toFixed(2)}×`;
}

export function tableLines(results: Results, repetitions: number): string[] {
  const lines = [
    `| workload | store | ${UNIT.W1}/s (median of ${repetitions}) | per server CPU-s | ratio vs memory (rate / per CPU-s; median of paired runs) | ratio vs bare oidc-provider (same) | p50 ms | p99 ms | errors | RSS MiB | SQL per req |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const workload of ['W1', 'W2', 'W3', 'W4'] as Workload[]) {
    for (const kind of ['bare', 'memory', 'sqlite', 'pg'] as TargetKind[]) {
      const runs = results[kind]?.[workload];
      if (!runs) continue;
      const s = summary(runs);
      const vsMemory = kind === 'memory' || kind === 'bare' ? '' : ratioCell(runs, results.memory?.[workload]);
      const vsBare = kind === 'bare' ? '' : ratioCell(runs, results.bare?.[workload]);
      lines.push(
        `| ${NAME[workload]} | ${kind} | ${s.rate.toFixed(workload === 'W4' ? 1 : 0)} | ${s.perCpuSecond.toFixed(workload === 'W4' ? 1 : 0)} | ${vsMemory} | ${vsBare} | ${s.p50} | ${s.p99} | ${s.errors} | ` +
          `${(s.rss / 2 ** 20).toFixed(0)} | ${s.statements.toFixed(2)}${workload === 'W4' ? ' per flow' : ''} |`,
      );
    }
  }
  return lines;
}

export function goalLines(results: Results): string[] {
  const lines = ['Goals (SQLite, synchronous=FULL, against the in-memory baseline of the same run):', ''];
  const sqlite = results.sqlite;
  const memory = results.memory;
  if (!sqlite || !memory) return lines;
  const mark = (met: boolean) => (met ? 'met' : 'MISSED');
  // A run limited by --workloads marks only the goals of what it ran.
  const ran = (workload: Workload) => (sqlite[workload]?.length ?? 0) > 0 && (memory[workload]?.length ?? 0) > 0;
  for (const [workload, target] of [['W1', 0.8], ['W2', 0.8], ['W3', 0.6], ['W4', 0.9]] as const) {
    if (!ran(workload)) continue;
    const rate = pairedRatio(sqlite[workload], memory[workload], 'rate');
    const cpu = pairedRatio(sqlite[workload], memory[workload], 'perCpuSecond');
    lines.push(`- ${workload} ≥ ${target}× the memory adapter: ${rate.toFixed(2)}× req/s, ${cpu.toFixed(2)}× per CPU-second — ${mark(rate >= target && cpu >= target)}`);
  }
  for (const workload of ['W1', 'W2'] as const) {
    if (!ran(workload)) continue;
    const p99 = summary(sqlite[workload]).p99;
    lines.push(`- ${workload} p99 < 25 ms at 32 connections: ${p99} ms — ${mark(p99 < 25)}`);
  }
  const rss = Math.max(...(['W1', 'W2', 'W3', 'W4'] as const).filter(ran).map((w) => summary(sqlite[w]).rss)) / 2 ** 20;
  lines.push(`- server RSS < 200 MiB after the run: ${rss.toFixed(0)} MiB — ${mark(rss < 200)}`);
  for (const [workload, limit] of [['W1', 1], ['W2', 2], ['W3', 4]] as const) {
    if (!ran(workload)) continue;
    const statements = summary(sqlite[workload]).statements;
    lines.push(`- ${workload} SQL statements per request ≤ ${limit}: ${statements.toFixed(2)} — ${mark(statements <= limit)}`);
  }
  return lines;
}

/**
 * The operations issue's goals: our server with its real stores against bare oidc-provider with
 * its memory adapter, per server CPU-second (what our code costs, whatever else the machine
 * runs). Our in-memory mode is listed too, unmarked: our layers without the storage.
 */
export function bareGoalLines(results: Results): string[] {
  const bare = results.bare;
  if (!bare) return [];
  const lines = ['Goals against bare oidc-provider (its memory adapter, no Latchkey code), per server CPU-second, median of paired runs:', ''];
  for (const [workload, target] of [['W1', 0.8], ['W2', 0.9], ['W3', 0.7]] as const) {
    if (!bare[workload]?.length) continue;
    for (const kind of ['sqlite', 'pg'] as const) {
      const runs = results[kind]?.[workload];
      if (!runs?.length) continue;
      const cpu = pairedRatio(runs, bare[workload], 'perCpuSecond');
      lines.push(`- ${workload} ${kind} ≥ ${target}× bare oidc-provider: ${cpu.toFixed(2)}× per CPU-second — ${cpu >= target ? 'met' : 'MISSED'}`);
    }
    const memory = results.memory?.[workload];
    if (memory?.length) lines.push(`- ${workload} memory (our layers without storage), for reference: ${pairedRatio(memory, bare[workload], 'perCpuSecond').toFixed(2)}× per CPU-second`);
  }
  return lines;
}
