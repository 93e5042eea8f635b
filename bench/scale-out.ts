// `npm run bench -- --scale-out`: W1–W3 against one instance of our server and against two, on
// the same PostgreSQL database with the same key file, as a deployment behind a load balancer
// would run them. Instance A is pinned to CPU 0 and B to CPU 1; the load generator (this
// process) and PostgreSQL are not pinned and share both cores with them, so on a 2-core
// machine "two" cannot reach 2× and the report says how busy each party was. Tokens are
// prepared on A and presented to both: a W2 token or a W3 refresh token issued by one instance
// is used on the other (same database), and each repetition measures one and two in turn.
//
//   DATABASE_URL_PG=postgres://… tsx bench/run.ts --scale-out [--duration 10] [--repetitions 3] [--workloads W1,W3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { throwAwayPostgresDatabase } from '../test/helpers/postgres-database.ts';
import { hasTaskset } from '../test/helpers/server-process.ts';
import { machineLines } from './machine.ts';
import type { LoadOptions } from './options.ts';
import { postgresCluster, type Cluster } from './postgres-cluster.ts';
import { databaseCell, scaleOutLines, type ScaleOutResults, type Spread } from './scale-out-report.ts';
import { startInstance, type BenchStats, type ServerTarget, type Target } from './target.ts';
import { WORKLOADS, type Workload } from './workloads.ts';

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** The instances as one target: load spread over all of them, their stats added up, plus the database's CPU. */
function spread(instances: ServerTarget[], cluster: Cluster): Target {
  const [first] = instances as [ServerTarget];
  const database = new URL(first.databaseUrl).pathname.slice(1);
  return {
    kind: 'pg',
    issuer: first.issuer,
    issuers: instances.map((instance) => instance.issuer),
    demo: first.demo,
    databaseUrl: first.databaseUrl,
    async stats(): Promise<BenchStats> {
      const all = await Promise.all(instances.map((instance) => instance.stats()));
      const threads = all.map((s) => s.threadsCpu);
      const databaseCpu = cluster.cpu(database);
      return {
        statements: sum(all.map((s) => s.statements)),
        rss: sum(all.map((s) => s.rss)),
        cpu: { user: sum(all.map((s) => s.cpu.user)), system: sum(all.map((s) => s.cpu.system)) },
        ...(threads.every(Boolean) ? { threadsCpu: { main: sum(threads.map((t) => t!.main)), others: sum(threads.map((t) => t!.others)) } } : {}),
        ...(databaseCpu ? { databaseCpu: { backends: databaseCpu.backends, background: databaseCpu.background } } : {}),
      };
    },
    // The instances are stopped by the run that started them.
    stop: async () => undefined,
  };
}

function pinning(): { a: string | undefined; b: string | undefined; description: string } {
  if (!hasTaskset() || os.cpus().length < 2) return { a: undefined, b: undefined, description: 'none (taskset missing or one core): instances, load generator and PostgreSQL share every core' };
  return {
    a: '0',
    b: '1',
    description: `instance A on CPU 0, instance B on CPU 1; the load generator and PostgreSQL unpinned, sharing ${os.cpus().length === 2 ? 'both cores' : 'every core'} with them`,
  };
}

export async function runScaleOut(options: LoadOptions & { flowConcurrency: number }): Promise<void> {
  const adminUrl = process.env.DATABASE_URL_PG;
  if (!adminUrl) throw new Error('--scale-out needs DATABASE_URL_PG: a PostgreSQL server where it may create (and drop) a throw-away database');
  const workloads = (['W1', 'W2', 'W3'] as Workload[]).filter((name) => options.workloads.includes(name));
  if (workloads.length === 0) throw new Error('--scale-out runs W1, W2 and W3; --workloads named none of them');

  const cpus = pinning();
  const cluster = await postgresCluster(adminUrl);
  const database = await throwAwayPostgresDatabase(adminUrl, 'latchkey_scale');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-scale-out-'));
  const keysFile = path.join(dir, 'keys.json');
  const lines = [
    ...machineLines(),
    `- pinning: ${cpus.description}`,
    `- one throw-away database on ${new URL(adminUrl).host} (${cluster.settings}), shared by both instances, which read the same KEYS_FILE; Knex adapter (BENCH_MODE=knex)`,
    `- database CPU: ${cluster.cpuSource}`,
    `- ${options.connections} connections in all (two instances: half each); ${options.duration} s per run, ${options.repetitions} run(s), ${options.warmup} s warm-up${options.smoke ? ' (smoke)' : ''}`,
  ];
  console.error(`latchkey scale-out benchmark\n${lines.join('\n')}`);

  const instances: ServerTarget[] = [];
  const results: ScaleOutResults = { one: {}, two: {} };
  // What the rest of the cluster did meanwhile (other databases, e.g. a test run on the same
  // server): large next to the table's database CPU means the machine was shared.
  const databaseName = new URL(database.url).pathname.slice(1);
  const rest = () => {
    const cpu = cluster.cpu(databaseName);
    return cpu && cpu.cluster - cpu.backends - cpu.background;
  };
  const started = { at: performance.now(), rest: rest() };
  try {
    // B starts once A has migrated and seeded the database and written the key file.
    instances.push(await startInstance({ kind: 'pg', cpus: cpus.a, databaseUrl: database.url, keysFile }));
    instances.push(await startInstance({ kind: 'pg', cpus: cpus.b, databaseUrl: database.url, keysFile }));
    const targets: Record<Spread, Target> = { one: spread(instances.slice(0, 1), cluster), two: spread(instances, cluster) };
    for (const workload of workloads) {
      const run = WORKLOADS[workload];
      const prepared = await run.prepare(targets.one, options);
      for (const [label, target] of Object.entries(targets) as Array<[Spread, Target]>) {
        if (options.warmup > 0) await run.measure(target, prepared, options, options.warmup);
        results[label][workload] = [];
      }
      for (let i = 0; i < options.repetitions; i += 1) {
        for (const [label, target] of Object.entries(targets) as Array<[Spread, Target]>) {
          const before = process.cpuUsage();
          const measurement = await run.measure(target, prepared, options, options.duration);
          const used = process.cpuUsage(before);
          results[label][workload]!.push({ ...measurement, loadGeneratorCores: (used.user + used.system) / 1e6 / options.duration });
          console.error(
            `  ${label} ${workload} run ${i + 1}: ${measurement.rate.toFixed(1)}/s, ${measurement.perCpuSecond.toFixed(0)}/server cpu-s, ` +
              `database ${databaseCell(measurement)} µs/req, p99 ${measurement.p99} ms, ${measurement.errors} errors`,
          );
        }
      }
      if (options.smoke) await run.verify?.(targets.two, prepared);
    }
  } finally {
    for (const instance of instances.reverse()) await instance.stop();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const restCpu = rest();
  if (restCpu !== undefined && started.rest !== undefined) {
    lines.push(`- the rest of the cluster (other databases, ended backends) used ${((restCpu - started.rest) / 1e6).toFixed(1)} CPU-s during the ${((performance.now() - started.at) / 1000).toFixed(0)} s of the run`);
  }
  console.log(['## Latchkey scale-out benchmark', '', ...lines, '', ...scaleOutLines(results, options.repetitions)].join('\n'));
  console.log(`\nload average at end (1/5/15 min): ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  const failures = Object.entries(results).flatMap(([label, byWorkload]) =>
    Object.entries(byWorkload).flatMap(([workload, runs]) => (runs ?? []).filter((r) => r.errors > 0 || r.requests === 0).map((r) => `${label} ${workload}: ${r.errors} errors of ${r.requests}`)),
  );
  if (failures.length) {
    console.error(`scale-out: errors\n${failures.join('\n')}`);
    process.exitCode = 1;
  }
}
