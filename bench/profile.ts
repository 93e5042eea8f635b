// `npm run bench:profile -- --workload W2`: where the server's CPU time goes under one
// workload. Runs the Knex/SQLite server (or --memory for our in-memory baseline, --bare for bare
// oidc-provider, bench/bare-provider.ts) with `node --cpu-prof`,
// drives the workload, stops the server and prints self time grouped by package and the
// hottest functions, and our own functions with everything they call (what each of our layers
// costs, the library and node work it triggers included), counting only samples taken while the
// workload was measured: start-up
// (module loading, key generation) and preparation would otherwise crowd the table. The
// README's Performance section quotes these summaries.
//
//   tsx bench/profile.ts [--workload W2] [--seconds 5] [--memory | --bare] [--top 15]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SourceMap } from 'node:module';
import { parseArgs } from 'node:util';
import { pinLoadGenerator } from './pinning.ts';
import { startTarget } from './target.ts';
import { WORKLOADS, type Workload } from './workloads.ts';

const { values: args } = parseArgs({
  options: {
    workload: { type: 'string', default: 'W2' },
    seconds: { type: 'string', default: '5' },
    memory: { type: 'boolean', default: false },
    bare: { type: 'boolean', default: false },
    top: { type: 'string', default: '15' },
  },
});

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  /** Microseconds on the system's monotonic clock, as process.hrtime reads it. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Microseconds on the monotonic clock the server's profiler stamps its samples with. */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/**
 * The server runs as one bundle (bin/build-server.js): frames in it are mapped back to the
 * source file and line they came from through the bundle's source map.
 */
const sourceMaps = new Map<string, SourceMap | null>();
function original(frame: ProfileNode['callFrame']): ProfileNode['callFrame'] {
  if (!frame.url.endsWith('.js') || frame.url.includes('node_modules') || !frame.url.startsWith('file:')) return frame;
  if (!sourceMaps.has(frame.url)) {
    const mapFile = `${new URL(frame.url).pathname}.map`;
    sourceMaps.set(frame.url, fs.existsSync(mapFile) ? new SourceMap(JSON.parse(fs.readFileSync(mapFile, 'utf8'))) : null);
  }
  const entry = sourceMaps.get(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
  return entry && 'originalSource' in entry ? { ...frame, url: entry.originalSource, lineNumber: entry.originalLine } : frame;
}

/** node_modules/<package>, node's own internals, or our source tree. */
function owner(url: string): string {
  if (!url) return '(native / idle)';
  const inModules = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (inModules) return inModules[1] as string;
  if (url.startsWith('node:')) return 'node';
  const ours = url.match(/\/(server|adapters|bench)\//);
  return ours ? `latchkey ${ours[1]}/` : url;
}

/** `name file:line` of a frame of our own source tree (bundle frames mapped back), else undefined. */
function ourFrame(node: ProfileNode): string | undefined {
  const frame = original(node.callFrame);
  const where = frame.url.match(/\/((?:server|adapters|bench)\/.*)$/)?.[1];
  return where && `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
}

/**
 * Milliseconds of the samples whose stack holds each of our functions (once per sample, however
 * deep the recursion): self time plus everything called below it.
 */
function inclusiveOfOurs(profile: Profile, sampleMs: Map<number, number>): Map<string, number> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const result = new Map<string, number>();
  for (const [leaf, ms] of sampleMs) {
    const seen = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const name = ourFrame(byId.get(id) as ProfileNode);
      if (name) seen.add(name);
    }
    for (const name of seen) result.set(name, (result.get(name) ?? 0) + ms);
  }
  return result;
}

function summarize(profile: Profile, top: number, window: { from: number; to: number }, requests: number): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  let at = profile.startTime;
  let outside = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < window.from || at > window.to) outside += 1;
    else selfMs.set(id, (selfMs.get(id) ?? 0) + delta / 1000);
  });
  if (outside === profile.samples.length) throw new Error('no profile sample falls within the measured run: the clocks disagree');
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of selfMs) {
    const frame = original((byId.get(id) as ProfileNode).callFrame);
    if (frame.functionName === '(idle)') continue;
    total += ms;
    const who = owner(frame.url);
    byOwner.set(who, (byOwner.get(who) ?? 0) + ms);
    // Our own frames by file, others by package.
    const where = frame.url.match(/\/((?:server|adapters|bench)\/.*)$/)?.[1] ?? who;
    const name = `${frame.functionName || '(anonymous)'} ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  }
  const busy = new Map([...selfMs].filter(([id]) => (byId.get(id) as ProfileNode).callFrame.functionName !== '(idle)'));
  // Per request: sampled time spread over the run's requests (sampling overhead included, so
  // compare these between profiles, not with the benchmark's CPU per request).
  const cells = (ms: number) => `${((100 * ms) / total).toFixed(1)} % | ${requests ? ((ms * 1000) / requests).toFixed(1) : '?'}`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  const code = (name: string) => `\`${name.replace(/\|/g, '\\|')}\``;
  return [
    `busy CPU sampled during the measured run: ${(total / 1000).toFixed(2)} s, ${requests} requests`,
    '',
    '| where (self time) | share | µs per request |',
    '|---|---:|---:|',
    ...sorted(byOwner).map(([who, ms]) => `| ${who} | ${cells(ms)} |`),
    '',
    '| hottest functions (self time) | share | µs per request |',
    '|---|---:|---:|',
    ...sorted(byFunction).map(([name, ms]) => `| ${code(name)} | ${cells(ms)} |`),
    '',
    '| our functions, inclusive (with what they call) | share | µs per request |',
    '|---|---:|---:|',
    ...sorted(inclusiveOfOurs(profile, busy)).map(([name, ms]) => `| ${code(name)} | ${cells(ms)} |`),
  ];
}

const workload = args.workload as Workload;
if (!(workload in WORKLOADS)) throw new Error(`--workload must be one of ${Object.keys(WORKLOADS).join(', ')}`);
if (args.memory && args.bare) throw new Error('--memory and --bare are two different servers: choose one');
const kind = args.bare ? 'bare' : args.memory ? 'memory' : 'sqlite';
const LABEL = { bare: 'bare oidc-provider (memory adapter)', memory: 'the in-memory adapter', sqlite: 'Knex/SQLite' } as const;
if (kind === 'bare' && !WORKLOADS[workload].bare) throw new Error(`${workload} does not run against bare oidc-provider`);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-profile-'));
const { serverCpus } = pinLoadGenerator();
const target = await startTarget(kind, serverCpus, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
const options = { connections: 32, flowConcurrency: 4 };
let measurement;
const window = { from: 0, to: 0 };
try {
  const run = WORKLOADS[workload];
  const prepared = await run.prepare(target, options);
  await run.beforeRun?.(prepared, options);
  window.from = monotonicMicros();
  measurement = await run.measure(target, prepared, options, Number(args.seconds));
  window.to = monotonicMicros();
} finally {
  await target.stop();
}
const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`the server wrote no profile into ${dir}`);
console.log(
  [
    `### ${workload} on ${LABEL[kind]}: ${measurement.rate.toFixed(0)}/s, ${measurement.perCpuSecond.toFixed(0)} per CPU-s, ${measurement.statementsPerRequest.toFixed(2)} SQL/req`,
    '',
    measurement.cpuPerRequest
      ? `server CPU per request: main thread ${measurement.cpuPerRequest.main.toFixed(0)} µs, other threads (V8's helpers, the thread pool) ${measurement.cpuPerRequest.others.toFixed(0)} µs; the profile below is the main thread's`
      : 'server CPU per thread: not available here (no /proc)',
    '',
    ...summarize(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Profile, Number(args.top), window, measurement.requests),
    '',
    `profile: ${path.join(dir, file)}`,
  ].join('\n'),
);
