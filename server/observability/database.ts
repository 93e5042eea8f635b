// Database timings for the metrics: every statement Knex runs (its query and query-response
// events), the prepared statements of SQLite (sqlite-statements.ts reports those itself), and
// the pool's state at each scrape.
import type { Knex } from 'knex';
import type { Metrics } from './metrics.ts';

const observed = new WeakSet<Knex>();

export function observeDatabase(db: Knex, metrics: Metrics): void {
  // The app is rebuilt on key reloads, the pool is not: listen once per pool.
  if (observed.has(db)) return;
  observed.add(db);
  const started = new Map<string, number>();
  db.on('query', (query: { __knexQueryUid?: string }) => {
    if (query.__knexQueryUid) started.set(query.__knexQueryUid, performance.now());
  });
  const done = (_response: unknown, query: { __knexQueryUid?: string }) => {
    const uid = query?.__knexQueryUid;
    const at = uid ? started.get(uid) : undefined;
    if (uid === undefined || at === undefined) return;
    started.delete(uid);
    metrics.dbStatementDuration.observe((performance.now() - at) / 1000);
  };
  db.on('query-response', done);
  db.on('query-error', done);
  const pool = (db.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
  metrics.watchPool(() => ({ used: pool?.numUsed() ?? 0, free: pool?.numFree() ?? 0, pending: pool?.numPendingAcquires() ?? 0 }));
}
