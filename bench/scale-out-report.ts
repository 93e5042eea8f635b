// The scale-out run's table (bench/scale-out.ts): one instance against two, with what the
// database and the load generator cost beside the servers.
import { median, pairedRatio, summary } from './report.ts';
import type { Measurement, Workload } from './workloads.ts';

export type Spread = 'one' | 'two';
export type ScaleOutMeasurement = Measurement & {
  /** This process's CPU (autocannon and the stats calls) per second of the run, in cores. */
  loadGeneratorCores: number;
};
export type ScaleOutResults = Record<Spread, Partial<Record<Workload, ScaleOutMeasurement[]>>>;

const NAME: Partial<Record<Workload, string>> = { W1: 'W1 client_credentials', W2: 'W2 introspection', W3: 'W3 refresh (rotation)' };

/** The database's CPU µs per request, its backends and its background processes together. */
function databaseMicros(m: Measurement): number | undefined {
  const cpu = m.databaseCpuPerRequest;
  return cpu && cpu.backends + cpu.background;
}

/** Requests per CPU-second of the servers and the database together. */
function perTotalCpuSecond(m: Measurement): number | undefined {
  const database = databaseMicros(m);
  if (database === undefined || m.perCpuSecond === 0) return undefined;
  return 1e6 / (1e6 / m.perCpuSecond + database);
}

function medianOf(runs: ScaleOutMeasurement[], pick: (m: ScaleOutMeasurement) => number | undefined): number | undefined {
  const values = runs.map(pick).filter((v): v is number => v !== undefined);
  return values.length ? median(values) : undefined;
}

const fixed = (value: number | undefined, digits = 0) => (value === undefined ? '?' : value.toFixed(digits));

/** "backends + background" µs per request (medians, for several runs). */
export function databaseCell(...runs: Measurement[]): string {
  const part = (key: 'backends' | 'background') => {
    const values = runs.map((m) => m.databaseCpuPerRequest?.[key]).filter((v): v is number => v !== undefined);
    return values.length ? median(values).toFixed(0) : '?';
  };
  return `${part('backends')} + ${part('background')}`;
}

export function scaleOutLines(results: ScaleOutResults, repetitions: number): string[] {
  const lines = [
    `| workload | instances | req/s (median of ${repetitions}) | per server CPU-s | two/one (rate / per server CPU-s; median of paired runs) | database CPU µs/req: our backends + background (shared) | per CPU-s, servers + database | cores busy: servers / database / load generator | p50 ms | p99 ms | errors | RSS MiB (all instances) | SQL per req |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const ratios: string[] = [];
  for (const workload of ['W1', 'W2', 'W3'] as Workload[]) {
    const one = results.one[workload];
    const two = results.two[workload];
    if (!one?.length || !two?.length) continue;
    for (const [label, runs] of [['one', one], ['two', two]] as const) {
      const s = summary(runs);
      const ratio = label === 'two' ? `${pairedRatio(two, one, 'rate').toFixed(2)}× / ${pairedRatio(two, one, 'perCpuSecond').toFixed(2)}×` : '';
      const serverCores = medianOf(runs, (m) => (m.perCpuSecond ? m.rate / m.perCpuSecond : undefined));
      const databaseCores = medianOf(runs, (m) => {
        const database = databaseMicros(m);
        return database === undefined ? undefined : (m.rate * database) / 1e6;
      });
      const loadCores = medianOf(runs, (m) => m.loadGeneratorCores);
      lines.push(
        `| ${NAME[workload]} | ${label} | ${s.rate.toFixed(0)} | ${s.perCpuSecond.toFixed(0)} | ${ratio} | ${databaseCell(...runs)} | ` +
          `${fixed(medianOf(runs, perTotalCpuSecond))} | ${fixed(serverCores, 2)} / ${fixed(databaseCores, 2)} / ${fixed(loadCores, 2)} | ${s.p50} | ${s.p99} | ${s.errors} | ` +
          `${(s.rss / 2 ** 20).toFixed(0)} | ${s.statements.toFixed(2)} |`,
      );
    }
    ratios.push(`${workload} ${pairedRatio(two, one, 'rate').toFixed(2)}×`);
  }
  return [...lines, '', `Two instances against one, req/s (median of paired runs): ${ratios.join(', ')}.`];
}
