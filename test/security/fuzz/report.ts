// Human-readable output of a fuzz run: the summary, one block per distinct failure with its
// (minimised) request and response, and per-target tables.
import type { FuzzFailure, FuzzResult } from './run.ts';

function truncate(text: string, max: number): string {
  const flat = text.replace(/\r?\n/g, '\\n');
  return flat.length > max ? `${flat.slice(0, max)}… (${text.length} chars)` : flat;
}

export function describeFailure(failure: FuzzFailure, { bodyChars = 300, seed, store }: { bodyChars?: number; seed?: number; store?: string } = {}): string {
  const { request, observed } = failure;
  const lines = [
    `${request.method} ${truncate(request.path, 300)}`,
    ...Object.entries(request.headers).map(([name, value]) => `  ${name}: ${truncate(value, 160)}`),
  ];
  if (request.body) lines.push(`  body${request.chunked ? ' (chunked)' : ''}: ${truncate(request.body.toString('utf8'), bodyChars)}`);
  lines.push(
    observed.transportError
      ? `  → ${observed.transportError}`
      : `  → ${observed.status} ${observed.headers['content-type'] ?? ''}: ${truncate(observed.body, bodyChars)}`,
  );
  for (const violation of failure.violations) lines.push(`  ✗ ${violation.kind}: ${violation.detail}`);
  if (failure.path === '(live state)') lines.push('  (a valid request of the fuzzer\'s own set-up flows)');
  else {
    const where = store && store !== 'sqlite' ? ` --store ${store}` : '';
    lines.push(`  (replay: npm run fuzz -- --seed ${seed ?? '<seed>'}${where} --replay ${failure.path}${failure.simplified ? '; the request above is that case further simplified' : ''})`);
  }
  return lines.join('\n');
}

export function formatReport(result: FuzzResult, { groups = 10, store }: { groups?: number; store?: string } = {}): string {
  const statusLine = Object.entries(result.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status}×${n}`)
    .join(' ');
  const lines = [
    `fuzz: ${result.runs} cases, seed ${result.seed}, ${(result.durationMs / 1000).toFixed(1)} s, ${result.casesPerSecond.toFixed(0)} cases/s`,
    `statuses: ${statusLine}`,
    `server alive after the run: ${result.aliveAfter.ok ? 'yes' : 'NO'} (${result.aliveAfter.detail})`,
    `failing cases: ${result.failureCount}, distinct failures: ${result.groups.length}`,
  ];
  if (result.live.replenishFailures.length) lines.push(`live-state top-up problems: ${result.live.replenishFailures.slice(-3).join('; ')}`);
  for (const group of result.groups.slice(0, groups)) {
    lines.push('', `■ ${group.signature}  (${group.count} cases; seen on ${group.seenOn.join(', ')})`, describeFailure(group.minimal ?? group.first, { seed: result.seed, store }));
  }
  if (result.groups.length > groups) lines.push('', `… and ${result.groups.length - groups} more distinct failures`);
  return lines.join('\n');
}

export function targetTable(result: FuzzResult): string {
  const rows = Object.entries(result.byTarget).sort(([a], [b]) => a.localeCompare(b));
  return rows
    .map(([target, counts]) => {
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      const detail = Object.entries(counts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([s, n]) => `${s}×${n}`)
        .join(' ');
      const ms = result.latency[target];
      const timing = ms ? `  [${ms.p50}/${ms.p95}/${ms.max} ms]` : '';
      return `${target.padEnd(24)} ${String(total).padStart(6)}${timing}  ${detail}`;
    })
    .join('\n');
}

export function slowestTable(result: FuzzResult): string {
  return result.slowest.map((s) => `${String(s.ms).padStart(6)} ms  ${s.status || '—'}  ${s.request}`).join('\n');
}
