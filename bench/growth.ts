// `npm run bench:growth`: does W2 (introspection) cost the same with 1,000,000 stored tokens as
// with 10,000, and does the purge of expired rows leave its p99 alone while it runs?
//
// One Knex/SQLite server (synchronous=FULL, purge every second). Filler rows are written
// straight into its database file from here, shaped like access tokens (digest ids, grant ids,
// sealed-size payloads). W2 is measured at 10,000 rows, at 1,000,000 rows, and again at
// 1,000,000 while the server purges 200,000 expired rows in its bounded batches.
//
//   tsx bench/growth.ts [--seconds 10] [--rows 1000000] [--expired 200000] [--smoke]
import crypto from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import sqlite3 from 'sqlite3';
import { startTarget, type Target } from './target.ts';
import { WORKLOADS, type Measurement } from './workloads.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rows: { type: 'string', default: '1000000' },
    expired: { type: 'string', default: '200000' },
    smoke: { type: 'boolean', default: false },
  },
});
const smoke = args.smoke === true;
const seconds = smoke ? 2 : Number(args.seconds);
const large = smoke ? 50_000 : Number(args.rows);
const expired = smoke ? 20_000 : Number(args.expired);
const SMALL = 10_000;

function run(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (error) => (error ? reject(error) : resolve())));
}
function get<T>(db: sqlite3.Database, sql: string): Promise<T> {
  return new Promise((resolve, reject) => db.get(sql, (error, row) => (error ? reject(error) : resolve(row as T))));
}

const digest = () => crypto.randomBytes(32).toString('base64url');
// A sealed access-token payload is about this long (base64url of AES-GCM output).
const PAYLOAD = crypto.randomBytes(450).toString('base64url');

/** Adds `count` token-shaped rows, in transactions of 20,000, expiring at `expiresAt`. */
async function fill(db: sqlite3.Database, count: number, expiresAt: number): Promise<void> {
  for (let done = 0; done < count; ) {
    const chunk = Math.min(20_000, count - done);
    await run(db, 'BEGIN');
    const statement = db.prepare(
      'INSERT INTO oidc_payloads (model, id, payload, grant_id, account_id, client_id, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (let i = 0; i < chunk; i += 1) {
      statement.run('AccessToken', digest(), PAYLOAD, digest(), `user-${i % 5000}`, 'contacts-reader', expiresAt);
    }
    await new Promise<void>((resolve, reject) => statement.finalize((error) => (error ? reject(error) : resolve())));
    await run(db, 'COMMIT');
    done += chunk;
  }
}

async function rowCount(db: sqlite3.Database): Promise<number> {
  return (await get<{ n: number }>(db, 'SELECT count(*) AS n FROM oidc_payloads')).n;
}

async function measureW2(target: Target, prepared: unknown): Promise<Measurement> {
  return WORKLOADS.W2.measure(target, prepared, { connections: 32, flowConcurrency: 4 }, seconds);
}

const target = await startTarget('sqlite', undefined, [], { PURGE_INTERVAL: '1' });
const filename = target.databaseUrl.replace(/^sqlite:/, '');
const db = new sqlite3.Database(filename);
db.configure('busyTimeout', 30_000);
const lines: string[] = [];
try {
  const prepared = await WORKLOADS.W2.prepare(target, { connections: 32, flowConcurrency: 4 });
  const inADay = Date.now() + 24 * 3600 * 1000;
  await fill(db, Math.max(0, SMALL - (await rowCount(db))), inADay);
  await measureW2(target, prepared); // warm-up
  const small = await measureW2(target, prepared);
  const smallRows = await rowCount(db);

  await fill(db, large - (await rowCount(db)), inADay);
  await measureW2(target, prepared); // warm-up
  const big = await measureW2(target, prepared);
  const bigRows = await rowCount(db);

  // Already expired: the server's purge (every second, bounded batches) starts on them at once.
  await fill(db, expired, Date.now() - 1000);
  const purging = await measureW2(target, prepared);
  const left = (await get<{ n: number }>(db, `SELECT count(*) AS n FROM oidc_payloads WHERE expires_at <= ${Date.now()}`)).n;

  const row = (label: string, rows: number, m: Measurement) =>
    `| ${label} | ${rows.toLocaleString('en')} | ${m.rate.toFixed(0)} | ${m.perCpuSecond.toFixed(0)} | ${m.p50} | ${m.p99} | ${m.errors} |`;
  const ratio = big.perCpuSecond / small.perCpuSecond;
  const p99Change = purging.p99 / Math.max(1, big.p99) - 1;
  lines.push(
    `## W2 as data grows (${new Date().toISOString()}, ${os.cpus()[0]?.model.trim()}, ${os.cpus().length} cores, ${seconds} s per run${smoke ? ', smoke' : ''})`,
    '',
    '| W2 introspection | stored rows | req/s | per server CPU-s | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('small table', smallRows, small),
    row('large table', bigRows, big),
    row(`large table, purging ${expired.toLocaleString('en')} expired rows`, bigRows + expired, purging),
    '',
    `- ${bigRows.toLocaleString('en')} rows vs ${smallRows.toLocaleString('en')}: ${ratio.toFixed(2)}× per CPU-second, ${(big.rate / small.rate).toFixed(2)}× req/s — goal within 10 %: ${Math.abs(1 - ratio) <= 0.1 ? 'met' : 'MISSED'}`,
    `- p99 while purging: ${purging.p99} ms vs ${big.p99} ms (${p99Change >= 0 ? '+' : ''}${(100 * p99Change).toFixed(0)} %) — goal at most +20 %: ${p99Change <= 0.2 ? 'met' : 'MISSED'}; expired rows still there after the run: ${left.toLocaleString('en')}`,
  );
  console.log(lines.join('\n'));
  const errors = small.errors + big.errors + purging.errors;
  if (smoke && errors > 0) {
    console.error(`growth smoke: FAILED with ${errors} errors`);
    process.exitCode = 1;
  }
} finally {
  db.close();
  await target.stop();
}
