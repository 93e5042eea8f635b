// `npm run bench:statements`: which SQL statements each workload runs per request, on the
// Knex/SQLite server (or PostgreSQL with --pg and DATABASE_URL_PG). The table of `npm run bench`
// says how many; this says which, so the next change knows where to look.
//
//   tsx bench/statements.ts [--seconds 3] [--pg]
import { parseArgs } from 'node:util';
import { startTarget } from './target.ts';
import { WORKLOADS, type Workload } from './workloads.ts';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, pg: { type: 'boolean', default: false } } });

type Detail = { byStatement: Array<{ sql: string; count: number }> };

async function detail(issuer: string): Promise<Map<string, number>> {
  const body = (await (await fetch(`${issuer}/bench/stats?detail=1`)).json()) as Detail;
  return new Map(body.byStatement.map((s) => [s.sql, s.count]));
}

const target = await startTarget(args.pg ? 'pg' : 'sqlite', undefined);
try {
  const options = { connections: 32, flowConcurrency: 4 };
  for (const workload of Object.keys(WORKLOADS) as Workload[]) {
    const run = WORKLOADS[workload];
    const prepared = await run.prepare(target, options);
    const before = await detail(target.issuer);
    const measurement = await run.measure(target, prepared, options, Number(args.seconds));
    const after = await detail(target.issuer);
    const rows = [...after]
      .map(([sql, count]) => ({ sql, perRequest: (count - (before.get(sql) ?? 0)) / Math.max(1, measurement.requests) }))
      .filter((r) => r.perRequest >= 0.005)
      .sort((a, b) => b.perRequest - a.perRequest);
    console.log(`\n### ${workload}: ${measurement.statementsPerRequest.toFixed(2)} statements per request (${measurement.requests} requests)\n`);
    for (const r of rows) console.log(`- ${r.perRequest.toFixed(2)}  ${r.sql}`);
  }
} finally {
  await target.stop();
}
