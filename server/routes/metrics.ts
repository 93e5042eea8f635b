// GET /metrics in Prometheus' text format. Metrics are not public: on the main port only to
// `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time), or on a listener of their
// own (METRICS_PORT, run.ts) that needs no token and should stay on a private address.
import crypto from 'node:crypto';
import Router from '@koa/router';
import type { Metrics } from '../observability/metrics.ts';
import { HttpError } from '../http/errors.ts';
import { answerJson } from '../http/error-boundary.ts';

function sameSecret(presented: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

export function metricsRoute(metrics: Metrics, { token }: { token?: string | undefined } = {}): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    if (token !== undefined) {
      const presented = /^Bearer\s+(\S+)$/i.exec(ctx.get('Authorization'))?.[1];
      if (!presented || !sameSecret(presented, token)) {
        answerJson(ctx);
        throw new HttpError(401, 'invalid_token', 'Metrics need the METRICS_TOKEN bearer token.', {
          description: 'metrics need the METRICS_TOKEN bearer token',
          headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' },
        });
      }
    }
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
