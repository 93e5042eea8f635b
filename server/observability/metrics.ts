// Prometheus metrics (prom-client), under the names operators' dashboards and alerts depend on.
// One registry per process, made before the app and kept across key reloads (the app is rebuilt
// then, the counters must not restart). Labels are bounded: a route is a route name, never a path;
// a resource is a configured resource identifier; results and limits are small fixed sets.
import client from 'prom-client';

export interface Metrics {
  readonly registry: client.Registry;
  httpRequests: client.Counter<'route' | 'status'>;
  httpDuration: client.Histogram<'route'>;
  tokensIssued: client.Counter<'grant_type' | 'resource'>;
  introspections: client.Counter<'result'>;
  refreshReuseDetected: client.Counter;
  loginFailures: client.Counter;
  throttled: client.Counter<'limit'>;
  registrations: client.Counter<'result'>;
  dbStatementDuration: client.Histogram;
  groupCommitBatchSize: client.Histogram;
  purgedRows: client.Counter;
  /** Reports the connection pool's state at each scrape. */
  watchPool(read: () => { used: number; free: number; pending: number }): void;
}

export function createMetrics({ defaultMetrics = true }: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new client.Registry();
  if (defaultMetrics) client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let pool: (() => { used: number; free: number; pending: number }) | undefined;

  const metrics: Metrics = {
    registry,
    httpRequests: new client.Counter({ name: 'latchkey_http_requests_total', help: 'HTTP requests answered, by route and status.', labelNames: ['route', 'status'], registers }),
    httpDuration: new client.Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    tokensIssued: new client.Counter({ name: 'latchkey_tokens_issued_total', help: 'Access tokens issued, by grant type and resource.', labelNames: ['grant_type', 'resource'], registers }),
    introspections: new client.Counter({ name: 'latchkey_introspections_total', help: 'Introspection answers, by result (active, inactive).', labelNames: ['result'], registers }),
    refreshReuseDetected: new client.Counter({ name: 'latchkey_refresh_reuse_detected_total', help: 'Reused refresh tokens or codes that revoked their grant.', registers }),
    loginFailures: new client.Counter({ name: 'latchkey_login_failures_total', help: 'Sign-ins refused for wrong credentials.', registers }),
    throttled: new client.Counter({ name: 'latchkey_throttled_total', help: 'Requests answered 429, by limit.', labelNames: ['limit'], registers }),
    registrations: new client.Counter({ name: 'latchkey_registrations_total', help: 'Dynamic client registrations, by result.', labelNames: ['result'], registers }),
    dbStatementDuration: new client.Histogram({
      name: 'latchkey_db_statement_duration_seconds',
      help: 'Time a database statement took, from sending to the answer.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    }),
    groupCommitBatchSize: new client.Histogram({
      name: 'latchkey_group_commit_batch_size',
      help: 'Writes committed together in one group-commit batch.',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    purgedRows: new client.Counter({ name: 'latchkey_purged_rows_total', help: 'Expired rows deleted by the purge.', registers }),
    watchPool(read) {
      pool = read;
    },
  };

  new client.Gauge({
    name: 'latchkey_db_pool_connections',
    help: 'Database pool connections, by state (used, free, pending acquires).',
    labelNames: ['state'],
    registers,
    collect() {
      if (!pool) return;
      const now = pool();
      this.set({ state: 'used' }, now.used);
      this.set({ state: 'free' }, now.free);
      this.set({ state: 'pending' }, now.pending);
    },
  });
  return metrics;
}
