// `npm run bench:compare -- W2 bare,sqlite,sqlite:LOG_LEVEL=warn [seconds] [repetitions]`: one
// workload against several servers in one run, taking turns, printing each one's server CPU per
// request (main thread + other threads) and the median against bare oidc-provider. A server is
// `bare`, `memory`, `sqlite` or `pg`, with environment variables after colons
// (`sqlite:LOG_LEVEL=warn`) and one node flag after `@` (`sqlite@--max-semi-space-size=32`): a
// quick A/B of a setting, with the baseline measured in the same minutes on the same machine.
import { pinLoadGenerator } from '../bench/pinning.ts';
import { startTarget, type TargetKind } from '../bench/target.ts';
import { WORKLOADS, type Workload } from '../bench/workloads.ts';
const [w = 'W2', kinds = 'bare,memory', seconds = '5', reps = '3'] = process.argv.slice(2);
const pin = pinLoadGenerator();
const options = { connections: 32, flowConcurrency: 4 };
if (!(w in WORKLOADS) || w === 'W4') throw new Error(`the workload must be W1, W2 or W3; got ${w}`);
const runner = WORKLOADS[w as Workload];
const targets = [] as Array<{ kind: string; t: Awaited<ReturnType<typeof startTarget>>; p: unknown }>;
for (const kind of kinds.split(',')) {
  const [spec, flag] = kind.split('@');
  const [base, ...envs] = (spec as string).split(':');
  const t = await startTarget(base as TargetKind, pin.serverCpus, flag ? [flag] : [], Object.fromEntries(envs.map((e) => e.split('=') as [string, string])));
  const p = await runner.prepare(t, options);
  await runner.measure(t, p, options, 2);
  targets.push({ kind, t, p });
}
const sums: Record<string, number[]> = {};
for (let r = 0; r < Number(reps); r++) {
  for (const { kind, t, p } of targets) {
    const m = await runner.measure(t, p, options, Number(seconds));
    const total = (m.cpuPerRequest?.main ?? 0) + (m.cpuPerRequest?.others ?? 0);
    (sums[kind] ??= []).push(total);
    console.log(kind.padEnd(7), w, `rate ${m.rate.toFixed(0)}/s  main ${m.cpuPerRequest?.main.toFixed(0)} + others ${m.cpuPerRequest?.others.toFixed(0)} = ${total.toFixed(0)} µs  errors ${m.errors}`);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;
const bare = sums.bare ? med(sums.bare) : undefined;
for (const [k, v] of Object.entries(sums)) console.log(`median ${k}: ${med(v).toFixed(0)} µs/req (${v.map((x) => x.toFixed(0)).join(', ')})${bare ? `, vs bare ${(bare / med(v)).toFixed(2)}×` : ''}`);
for (const { t } of targets) await t.stop();
