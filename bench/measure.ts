// How a workload's run becomes a Measurement: the load (autocannon, or the workload's own
// loop), with the server's CPU time and statement counts read around it.
import autocannon from 'autocannon';
import type { DatabaseCpu, Target } from './target.ts';

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

/** Runs `load`, reading server CPU time and statement counts around it. */
export async function measured(target: Target, load: () => Promise<{ ok: number; errors: number; p50: number; p99: number; seconds: number }>): Promise<Measurement> {
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
export function urls(target: Target, path: string): string[] {
  return (target.issuers ?? [target.issuer]).map((issuer) => `${issuer}${path}`);
}

export async function cannon(options: autocannon.Options) {
  const result = await autocannon(options);
  return { ok: result['2xx'], errors: result.errors + result.non2xx + result.timeouts, p50: result.latency.p50, p99: result.latency.p99, seconds: result.duration };
}
