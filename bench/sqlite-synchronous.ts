// What does SQLITE_SYNCHRONOUS=FULL (the default: an acknowledged token survives power loss) cost
// against NORMAL (WAL is fsynced only at checkpoints: the last transactions may be lost on power
// loss, never on a process crash)? In WAL mode FULL adds one fsync of the WAL per commit, and
// every token request commits at least once: client_credentials writes the access token;
// a refresh consumes the old token and writes the new refresh token, the access token and the
// retry (grace) record.
//
// The real server runs as a child process, once per mode, each on its own SQLite file; autocannon
// drives it from this process over loopback. With taskset the server and the load generator are
// pinned to different cores, so the two do not steal each other's CPU.
//
//   tsx bench/sqlite-synchronous.ts                  10 s per run, 3 runs per workload and mode
//   tsx bench/sqlite-synchronous.ts --duration 30 --repetitions 5 --connections 32 --warmup 3
//   tsx bench/sqlite-synchronous.ts --smoke          1 s per workload, 1 run, fails on any error
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { freePort } from '../test/helpers/processes.ts';
import { codeFlow, confidentialClient } from '../test/helpers/oauth.ts';
import { UserAgent } from '../test/helpers/user-agent.ts';
import { pinLoadGenerator } from './pinning.ts';
import { basicAuth, readDemoCredentials, startServerProcess } from '../test/helpers/server-process.ts';
import { loadOptions } from './options.ts';

type Mode = 'FULL' | 'NORMAL';
type Workload = 'client_credentials' | 'refresh_token';

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

const { smoke, duration, repetitions, connections, warmup } = loadOptions(1);

const REDIRECT = 'http://127.0.0.1:8080/callback';
// Named in every request: the demo MCP server defines the same scope names (RFC 8707).
const RESOURCE = 'https://contacts-api.example';
const MODES: Mode[] = ['FULL', 'NORMAL'];
const WORKLOADS: Workload[] = ['client_credentials', 'refresh_token'];

const cpuCount = os.cpus().length;
const { serverCpus, description: pinning } = pinLoadGenerator();

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function summarize(result: autocannon.Result): Run {
  return {
    rps: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.mismatches,
    requests: result.requests.total,
  };
}

/** Benchmarks one mode on a fresh database; returns the runs per workload. */
async function benchmarkMode(mode: Mode): Promise<Record<Workload, Run[]>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `latchkey-bench-${mode.toLowerCase()}-`));
  const keysFile = path.join(dir, 'keys.json');
  const port = await freePort();
  const server = startServerProcess({
    port,
    env: { DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}`, KEYS_FILE: keysFile, SEED_DEMO: 'true', SQLITE_SYNCHRONOUS: mode },
    cpus: serverCpus,
  });
  try {
    await server.ready();
    const { issuer } = server;
    const demo = readDemoCredentials(keysFile);
    const sync = basicAuth('contacts-sync', demo['contacts-sync'] as string);
    const readerSecret = demo['contacts-reader'] as string;
    const reader = await confidentialClient({ issuer }, 'contacts-reader', readerSecret);
    const readerAuth = basicAuth('contacts-reader', readerSecret);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };

    // Refresh tokens nobody has sent yet. One browser session: alice signs in and consents
    // once, later code flows go straight through (one grant, many refresh-token families).
    const agent = new UserAgent();
    const unsent: string[] = [];
    const topUp = async (count: number) => {
      for (let failures = 0; unsent.length < count; ) {
        try {
          const { tokens } = await codeFlow(reader, { email: 'alice@example.com', password: 'latchkey-demo' }, { redirect_uri: REDIRECT, scope: 'contacts:read', resource: RESOURCE }, agent);
          unsent.push(tokens.refresh_token as string);
        } catch (error) {
          // A keep-alive socket closed under us: start a new flow (never replay the code, a
          // replayed code revokes the grant that every chain here shares).
          if (++failures > 3) throw error;
        }
      }
    };

    const load = async (workload: Workload, seconds: number): Promise<Run> => {
      // autocannon takes the path from the URL; `path` only applies inside `requests`.
      const common = { url: `${issuer}/token`, connections, duration: seconds, pipelining: 1, timeout: 10 };
      if (workload === 'client_credentials') {
        return summarize(
          await autocannon({
            ...common,
            method: 'POST',
            headers: { ...form, authorization: sync },
            body: `grant_type=client_credentials&scope=contacts%3Aread&resource=${encodeURIComponent(RESOURCE)}`,
          }),
        );
      }
      // Each request takes a refresh token nobody else holds and puts its successor back: every
      // token is presented exactly once, as a well-behaved client would. Tokens in flight when a
      // run stops are abandoned (never presented again: no reuse detection), so top up per run.
      await topUp(connections * 2);
      return summarize(
        await autocannon({
          ...common,
          requests: [
            {
              method: 'POST',
              path: '/token',
              setupRequest: (request) => ({
                ...request,
                headers: { ...form, authorization: readerAuth },
                body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(unsent.pop() ?? 'exhausted')}`,
              }),
              onResponse: (status, body) => {
                if (status === 200) unsent.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
              },
            },
          ],
        }),
      );
    };

    if (warmup > 0) for (const workload of WORKLOADS) await load(workload, warmup);
    const runs: Record<Workload, Run[]> = { client_credentials: [], refresh_token: [] };
    for (const workload of WORKLOADS) {
      for (let i = 0; i < repetitions; i += 1) {
        const run = await load(workload, duration);
        runs[workload].push(run);
        console.error(`  ${mode.padEnd(6)} ${workload.padEnd(18)} run ${i + 1}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, ${run.errors} errors`);
      }
    }
    return runs;
  } finally {
    const exit = await server.stop();
    if (exit.code !== 0) console.error(`server (${mode}) exited with ${JSON.stringify(exit)}:\n${server.output()}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function describeMachine(): string[] {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const fsType = spawnSync('df', ['-T', os.tmpdir()], { encoding: 'utf8' }).stdout?.split('\n')[1]?.split(/\s+/)[1] ?? 'unknown';
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpu}, ${cpuCount} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    `- node: ${process.version}; database files in ${os.tmpdir()} (${fsType})`,
    `- load average at start (1/5/15 min): ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`,
    `- pinning: ${pinning}`,
    `- ${connections} connections, ${duration} s per run, ${repetitions} run(s) per workload and mode${warmup ? `, ${warmup} s warm-up per workload` : ''}${smoke ? ' (smoke)' : ''}`,
  ];
}

async function main() {
  const machine = describeMachine();
  console.error(`latchkey SQLite synchronous benchmark\n${machine.join('\n')}`);
  const results = {} as Record<Mode, Record<Workload, Run[]>>;
  for (const mode of MODES) results[mode] = await benchmarkMode(mode);

  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
  const lines = [
    `## SQLite synchronous=FULL vs NORMAL`,
    '',
    ...machine,
    '',
    `| workload | mode | req/s (median of ${repetitions}) | runs (req/s) | p50 ms | p99 ms | errors | NORMAL/FULL |`,
    '|---|---|---:|---|---:|---:|---:|---:|',
  ];
  for (const workload of WORKLOADS) {
    const full = median(results.FULL[workload].map((r) => r.rps));
    for (const mode of MODES) {
      const runs = results[mode][workload];
      const rps = median(runs.map((r) => r.rps));
      lines.push(
        `| ${workload} | ${mode} | ${rps.toFixed(0)} | ${runs.map((r) => r.rps.toFixed(0)).join(', ')} | ` +
          `${fmt(median(runs.map((r) => r.p50)))} | ${fmt(median(runs.map((r) => r.p99)))} | ` +
          `${runs.reduce((sum, r) => sum + r.errors, 0)} | ${mode === 'NORMAL' ? `${(rps / full).toFixed(2)}×` : ''} |`,
      );
    }
  }
  lines.push('', `load average at end (1/5/15 min): ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  console.log(lines.join('\n'));

  if (smoke) {
    const failures = MODES.flatMap((mode) =>
      WORKLOADS.flatMap((workload) =>
        results[mode][workload].filter((r) => r.errors > 0 || r.requests === 0).map((r) => `${mode} ${workload}: ${r.errors} errors of ${r.requests} requests`),
      ),
    );
    if (failures.length) {
      console.error(`smoke: FAILED\n${failures.join('\n')}`);
      process.exit(1);
    }
    console.error('smoke: ok (no errors)');
  }
}

await main();
