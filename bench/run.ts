// `npm run bench`: W1–W4 against our own server with oidc-provider's in-memory adapter (the
// same-run baseline, BENCH_MODE=memory) and with the Knex adapter on SQLite (synchronous=FULL),
// plus PostgreSQL when DATABASE_URL_PG is set, and W1–W3 against bare oidc-provider with its
// memory adapter (bench/bare-provider.ts, the second baseline: no Latchkey code at all). Prints
// one markdown table with ratios against both baselines, the goals of issue 6 (against our
// memory mode) and of the operations issue (against bare oidc-provider), each met or missed.
// Figures per server CPU-second are the ones to compare on a noisy machine; raw req/s move with
// whatever else runs. Every store runs in each repetition, in turn, and ratios are medians of
// those paired runs.
//
//   tsx bench/run.ts [--duration 10] [--repetitions 3] [--connections 32] [--warmup 2] [--flows 4]
//                    [--server-node-options=--max-old-space-size=1024] [--workloads W1,W2]
//   tsx bench/run.ts --smoke      a few seconds per workload, asserts zero errors and valid tokens
//   tsx bench/run.ts --scale-out  one instance against two on one PostgreSQL (bench/scale-out.ts)
import os from 'node:os';
import { pinLoadGenerator } from './pinning.ts';
import { startTarget, type Target, type TargetKind } from './target.ts';
import { WORKLOADS, type Measurement, type Workload } from './workloads.ts';
import { bareGoalLines, goalLines, tableLines } from './report.ts';
import { loadOptions } from './options.ts';
import { machineLines } from './machine.ts';
import { runScaleOut } from './scale-out.ts';

const parsed = loadOptions(2);
const smoke = parsed.smoke;
const options = { ...parsed, flowConcurrency: parsed.flows };

function runLines(pinning: string): string[] {
  return [
    ...machineLines(),
    `- pinning: ${pinning}`,
    '- baselines: our server in BENCH_MODE=memory (W1–W4) and bare oidc-provider with its memory adapter (W1–W3: W4 measures our login and consent pages, which it has not)',
    ...(options.serverNodeOptions ? [`- Knex servers with NODE_OPTIONS=${options.serverNodeOptions} (the baselines without)`] : []),
    `- ${options.connections} connections for W1–W3, ${options.flowConcurrency} concurrent flows for W4; ${options.duration} s per run, ${options.repetitions} run(s), ${options.warmup} s warm-up${smoke ? ' (smoke)' : ''}`,
  ];
}

/**
 * Every store's server runs side by side (idle while another is measured), and each repetition
 * measures them in turn: the machine's drift over the minutes of a run (other load, a busier
 * host) falls on every store alike instead of on whichever ran last.
 */
async function benchTargets(kinds: TargetKind[], serverCpus: string | undefined): Promise<Partial<Record<TargetKind, Record<Workload, Measurement[]>>>> {
  const targets: Target[] = [];
  try {
    for (const kind of kinds) {
      const baseline = kind === 'memory' || kind === 'bare';
      const env: Record<string, string> = !baseline && options.serverNodeOptions ? { NODE_OPTIONS: options.serverNodeOptions } : {};
      targets.push(await startTarget(kind, serverCpus, [], env));
    }
    const results = Object.fromEntries(kinds.map((kind) => [kind, {}])) as Record<TargetKind, Record<Workload, Measurement[]>>;
    for (const workload of (Object.keys(WORKLOADS) as Workload[]).filter((name) => options.workloads.includes(name))) {
      const run = WORKLOADS[workload];
      const active = targets.filter((target) => target.kind !== 'bare' || run.bare);
      const prepared = [];
      for (const target of active) {
        const state = await run.prepare(target, options);
        if (options.warmup > 0) await run.measure(target, state, options, options.warmup);
        prepared.push(state);
        results[target.kind][workload] = [];
      }
      for (let i = 0; i < options.repetitions; i += 1) {
        for (const [t, target] of active.entries()) {
          const measurement = await run.measure(target, prepared[t], options, options.duration);
          results[target.kind][workload].push(measurement);
          console.error(
            `  ${target.kind.padEnd(6)} ${workload} run ${i + 1}: ${measurement.rate.toFixed(1)}/s, ${measurement.perCpuSecond.toFixed(0)}/cpu-s, ` +
              `p99 ${measurement.p99} ms, ${measurement.errors} errors, ${measurement.statementsPerRequest.toFixed(2)} SQL/req` +
              (measurement.cpuPerRequest
                ? `, CPU/req ${measurement.cpuPerRequest.main.toFixed(0)} µs main thread + ${measurement.cpuPerRequest.others.toFixed(0)} µs other threads`
                : ''),
          );
        }
      }
      if (smoke) for (const [t, target] of active.entries()) await run.verify?.(target, prepared[t]);
    }
    return results;
  } finally {
    for (const target of targets) await target.stop();
  }
}

async function main() {
  if (options.scaleOut) return runScaleOut(options);
  const { serverCpus, description: pinning } = pinLoadGenerator();
  const lines = runLines(pinning);
  console.error(`latchkey benchmark\n${lines.join('\n')}`);
  const kinds: TargetKind[] = ['bare', 'memory', 'sqlite', ...(process.env.DATABASE_URL_PG && !smoke ? (['pg'] as const) : [])];
  const results = await benchTargets(kinds, serverCpus);

  console.log(
    ['## Latchkey benchmark', '', ...lines, '', ...tableLines(results, options.repetitions), '', ...goalLines(results), '', ...bareGoalLines(results)].join('\n'),
  );
  console.log(`\nload average at end (1/5/15 min): ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);

  if (smoke) {
    const failures = Object.entries(results).flatMap(([kind, byWorkload]) =>
      Object.entries(byWorkload).flatMap(([workload, runs]) => runs.filter((r) => r.errors > 0 || r.requests === 0).map((r) => `${kind} ${workload}: ${r.errors} errors of ${r.requests}`)),
    );
    if (failures.length) {
      console.error(`smoke: FAILED\n${failures.join('\n')}`);
      process.exit(1);
    }
    console.error('smoke: ok');
  }
}

await main();
