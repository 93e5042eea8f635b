// `npm run bench:status-list`: what a status list (draft-ietf-oauth-status-list) weighs and
// costs when it covers 10,000 and 1,000,000 live JWT access tokens, at several recalled
// fractions.
//
// The issuer is the real server (the benchmarks' bundle, bench/target.ts) on a SQLite file, or
// on PostgreSQL with DATABASE_URL_PG; the demo contacts API is switched to JWT access tokens.
// The live tokens' entries are written straight into its database from here (as the server
// writes them: leased blocks of 1,024 indexes, one entry per token, recalled ones with their
// bit), the recalled indexes drawn at random (the worst case for compression: recalls that
// come per grant and per logout cluster far less than tokens issued together). Then the list is
// fetched over HTTP as an API fetches it. Per row: the status list token's size (a compact JWS),
// the bytes on the wire to a client that accepts gzip (as fetch does), the compressed list
// inside it (`lst` decoded), fetch latency (p50/p99 of
// sequential GETs, so what one API waits once per ttl), server SQL per fetch, and what
// latchkey/resource-server spends inflating it.
//
//   tsx bench/status-list.ts [--sizes 10000,1000000] [--recalled 0,0.001,0.01,0.05] [--fetches 30] [--smoke]
import crypto from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { decodeJwt } from 'jose';
import type { Knex } from 'knex';
import { parseDatabaseUrl } from '../server/config/env.ts';
import { createDatabase } from '../server/db/knex.ts';
import { statusListIdFor, STATUS_LIST_MEDIA_TYPE } from '../server/services/status-lists.ts';
import { BLOCK_SIZE } from '../adapters/status-list-store.ts';
import { decodeStatusList } from '../resource-server/status-list.ts';
import { machineLines } from './machine.ts';
import { startTarget, type ServerTarget } from './target.ts';

const RESOURCE = 'https://contacts-api.example';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,1000000' },
    recalled: { type: 'string', default: '0,0.001,0.01,0.05' },
    fetches: { type: 'string', default: '30' },
    smoke: { type: 'boolean', default: false },
  },
});
const smoke = args.smoke === true;
const sizes = (smoke ? '2000,20000' : (args.sizes as string)).split(',').map(Number);
const fractions = (smoke ? '0.01' : (args.recalled as string)).split(',').map(Number);
const fetches = smoke ? 3 : Number(args.fetches);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || fractions.some((p) => !(p >= 0 && p <= 1)) || !(fetches >= 1)) {
  throw new Error('--sizes: whole numbers; --recalled: fractions from 0 to 1; --fetches ≥ 1');
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
const kib = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${bytes.toLocaleString('en')} B (${(bytes / 1024).toFixed(1)} KiB)`);

/** The list's live tokens: `count` entries over the blocks they need, none recalled yet. */
async function fill(db: Knex, listId: string, count: number): Promise<void> {
  await db('status_list_entries').where({ list_id: listId }).delete();
  await db('status_list_blocks').where({ list_id: listId }).delete();
  const now = Date.now();
  const blocks = Math.ceil(count / BLOCK_SIZE);
  await db.batchInsert('status_list_blocks', Array.from({ length: blocks }, (_, block) => ({ list_id: listId, block, leased_until: now + 600_000 })), 500);
  const grant = () => crypto.randomBytes(32).toString('base64url');
  // Multi-row VALUES of 200 rows (SQLite refuses Knex's batchInsert past 500 UNION terms), in
  // transactions of 50,000.
  for (let done = 0; done < count; ) {
    const chunk = Math.min(50_000, count - done);
    await db.transaction(async (trx) => {
      for (let at = 0; at < chunk; at += 200) {
        const n = Math.min(200, chunk - at);
        const bindings = Array.from({ length: n }, (_, i) => [listId, done + at + i, grant(), now + 3_600_000]).flat();
        await trx.raw(`INSERT INTO status_list_entries (list_id, idx, grant_id, expires_at, status) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, 0)').join(', ')}`, bindings);
      }
    });
    done += chunk;
  }
}

/** Recalls a random `fraction` of the list's `count` tokens (and un-recalls the rest). */
async function recall(db: Knex, listId: string, count: number, fraction: number): Promise<number> {
  await db('status_list_entries').where({ list_id: listId }).whereNot({ status: 0 }).update({ status: 0 });
  const chosen = new Set<number>();
  const wanted = Math.round(count * fraction);
  while (chosen.size < wanted) chosen.add(crypto.randomInt(count));
  const all = [...chosen];
  for (let i = 0; i < all.length; i += 500) {
    await db('status_list_entries').where({ list_id: listId }).whereIn('idx', all.slice(i, i + 500)).update({ status: 1 });
  }
  return wanted;
}

/** The body's bytes as sent to a client that accepts gzip (node:http leaves it compressed). */
function wireBytes(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { accept: STATUS_LIST_MEDIA_TYPE, 'accept-encoding': 'gzip' } }, (response) => {
        let bytes = 0;
        response.on('data', (chunk: Buffer) => (bytes += chunk.length));
        response.on('end', () => resolve(bytes));
      })
      .on('error', reject);
  });
}

interface Row {
  store: string;
  live: number;
  recalled: number;
  tokenBytes: number;
  wireBytes: number;
  lstBytes: number;
  p50: number;
  p99: number;
  sql: number;
  inflateMs: number;
}

async function measure(target: ServerTarget, db: Knex, live: number, fraction: number): Promise<Row> {
  const listId = statusListIdFor(RESOURCE);
  const recalled = await recall(db, listId, live, fraction);
  const url = `${target.issuer}/status-lists/${listId}`;
  const get = async () => {
    const started = performance.now();
    const response = await fetch(url, { headers: { accept: STATUS_LIST_MEDIA_TYPE } });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${body.slice(0, 200)}`);
    return { ms: performance.now() - started, body };
  };
  await get();
  const before = (await target.stats()).statements;
  const times: number[] = [];
  let body = '';
  for (let i = 0; i < fetches; i += 1) ({ ms: times[i], body } = await get());
  const sql = ((await target.stats()).statements - before) / fetches;
  const claim = decodeJwt(body).status_list as { bits: number; lst: string };
  const inflateStarted = performance.now();
  const decoded = decodeStatusList(claim);
  const inflateMs = performance.now() - inflateStarted;
  if (decoded.bytes.length * 8 < live) throw new Error(`the list covers ${decoded.bytes.length * 8} tokens, fewer than ${live}`);
  times.sort((x, y) => x - y);
  return {
    store: target.kind,
    live,
    recalled,
    tokenBytes: Buffer.byteLength(body),
    wireBytes: await wireBytes(url),
    lstBytes: Buffer.from(claim.lst, 'base64url').length,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    sql,
    inflateMs,
  };
}

async function bench(kind: 'sqlite' | 'pg'): Promise<Row[]> {
  const target = await startTarget(kind, undefined);
  const db = createDatabase(parseDatabaseUrl(target.databaseUrl));
  try {
    // The demo contacts API issues JWT access tokens from now on (the server re-reads it within a second).
    await db('resource_servers').where({ id: RESOURCE }).update({ token_format: 'jwt' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const rows: Row[] = [];
    for (const live of sizes) {
      const filling = performance.now();
      await fill(db, statusListIdFor(RESOURCE), live);
      console.error(`  ${kind}: ${live} live tokens written in ${((performance.now() - filling) / 1000).toFixed(1)} s`);
      for (const fraction of fractions) {
        const row = await measure(target, db, live, fraction);
        console.error(`  ${kind} ${live} live, ${row.recalled} recalled: ${row.tokenBytes} B token, p50 ${row.p50.toFixed(1)} ms`);
        rows.push(row);
      }
    }
    return rows;
  } finally {
    await db.destroy();
    await target.stop();
  }
}

const machine = machineLines();
const kinds: Array<'sqlite' | 'pg'> = process.env.DATABASE_URL_PG ? ['sqlite', 'pg'] : ['sqlite'];
const rows: Row[] = [];
for (const kind of kinds) rows.push(...(await bench(kind)));

console.log([
  `# Status list size and fetch time${smoke ? ' (smoke)' : ''}`,
  '',
  ...machine,
  `- ${fetches} sequential fetches per row after one warm-up; recalled indexes drawn at random; 1 bit per token; lists in whole blocks of ${BLOCK_SIZE}`,
  '',
  '| store | live tokens | recalled | status list token | on the wire (gzip) | compressed list (`lst`, decoded) | fetch p50 ms | fetch p99 ms | server SQL per fetch | API inflate ms |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.store} | ${r.live.toLocaleString('en')} | ${r.recalled.toLocaleString('en')} (${((100 * r.recalled) / r.live).toFixed(1)} %) | ${kib(r.tokenBytes)} | ${kib(r.wireBytes)} | ${kib(r.lstBytes)} | ` +
      `${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.sql.toFixed(1)} | ${r.inflateMs.toFixed(2)} |`,
  ),
].join('\n'));
