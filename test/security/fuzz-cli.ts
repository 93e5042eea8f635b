// On-demand fuzz run (T42f): starts its own server like the tests do and fuzzes every endpoint.
//
//   tsx test/security/fuzz-cli.ts --runs 100000 [--seed N] [--store sqlite|pg] [--concurrency 8]
//                                 [--minimize 5] [--groups 20] [--json FILE]
//   tsx test/security/fuzz-cli.ts --seed N --replay PATH      one case again, alone, on a fresh server
//
// --store pg needs TEST_DATABASE_URL_PG (a PostgreSQL server on which a throw-away database is
// created and dropped). Exit status: 0 clean, 1 failures found, 2 bad arguments.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_SEED, replayCase, runFuzz } from './fuzz/run.ts';
import { describeFailure, formatReport, slowestTable, targetTable } from './fuzz/report.ts';
import { startFuzzTarget, type FuzzTarget } from './fuzz/target.ts';

function usage(message: string): never {
  console.error(`${message}\nusage: tsx test/security/fuzz-cli.ts --runs N [--seed N] [--store sqlite|pg] [--concurrency N] [--minimize N] [--groups N] [--json FILE]\n       tsx test/security/fuzz-cli.ts [--seed N] [--store sqlite|pg] --replay PATH`);
  process.exit(2);
}

function integer(raw: string | undefined, name: string, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min) usage(`--${name} must be a whole number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

let values: Record<string, string | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      store: { type: 'string' },
      concurrency: { type: 'string' },
      minimize: { type: 'string' },
      groups: { type: 'string' },
      json: { type: 'string' },
      replay: { type: 'string' },
    },
    strict: true,
  }) as { values: Record<string, string | undefined> });
} catch (error) {
  usage((error as Error).message);
}

const runs = integer(values.runs, 'runs', 5000, 1);
const seed = integer(values.seed ?? process.env.FUZZ_SEED, 'seed', DEFAULT_SEED, -(2 ** 31));
const concurrency = integer(values.concurrency, 'concurrency', 8, 1);
const minimize = integer(values.minimize, 'minimize', 5);
const groups = integer(values.groups, 'groups', 20, 1);
const store = values.store ?? 'sqlite';
if (store !== 'sqlite' && store !== 'pg') usage(`--store must be sqlite or pg, got ${JSON.stringify(store)}`);
const pgAdminUrl = process.env.TEST_DATABASE_URL_PG;
if (store === 'pg' && !pgAdminUrl) usage('--store pg needs TEST_DATABASE_URL_PG (postgres://user@host:port/postgres)');

if (values.replay !== undefined && !/^\d+(:\d+)*$/.test(values.replay)) usage(`--replay takes a fast-check path such as 246:0:1, got ${JSON.stringify(values.replay)}`);

async function replay(target: FuzzTarget, path: string): Promise<number> {
  const replayed = await replayCase({ seed, path, baseUrl: target.harness.issuer, fixtures: target.fixtures });
  console.log(`seed ${seed}, path ${path}: ${replayed.signature}\n${describeFailure(replayed, { bodyChars: 2000, seed, store })}`);
  return replayed.violations.length ? 1 : 0;
}

async function fuzz(target: FuzzTarget): Promise<number> {
  console.log(`server ${target.harness.issuer}`);
  const result = await runFuzz({
    runs,
    seed,
    concurrency,
    minimize,
    baseUrl: target.harness.issuer,
    fixtures: target.fixtures,
    progressEvery: Math.max(500, Math.round(runs / 20)),
    onProgress: (p) =>
      console.log(
        `  ${String(p.done).padStart(String(runs).length)}/${runs}  ${(p.elapsedMs / 1000).toFixed(1)} s  ${p.casesPerSecond.toFixed(0)} cases/s  failing cases so far: ${p.failures}`,
      ),
  });
  console.log(`\ncases and statuses per target  [response ms p50/p95/max]\n${targetTable(result)}`);
  console.log(`\nslowest exchanges\n${slowestTable(result)}`);
  console.log(`\n${formatReport(result, { groups, store })}`);
  if (values.json) {
    // Buffers (request bodies) as text.
    const text = JSON.stringify(result, (key, value) => (key === 'body' && value?.type === 'Buffer' ? Buffer.from(value.data).toString('utf8') : value), 2);
    fs.writeFileSync(values.json, text);
    console.log(`\nfull result written to ${values.json}`);
  }
  return result.groups.length === 0 && result.aliveAfter.ok ? 0 : 1;
}

if (values.replay === undefined) console.log(`fuzz: ${runs} cases, seed ${seed} (replay with --seed ${seed}), store ${store}, concurrency ${concurrency}`);
const target = await startFuzzTarget({ store, pgAdminUrl });
let exitCode = 1;
try {
  exitCode = values.replay === undefined ? await fuzz(target) : await replay(target, values.replay);
} finally {
  await target.close();
}
process.exit(exitCode);
