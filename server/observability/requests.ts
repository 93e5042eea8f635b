// One line and two measurements per request: the request id (kept from a trusted proxy or made
// here, sent back as X-Request-Id, and carried by every log line written meanwhile), the route
// (a route name, never a path: paths carry interaction ids and would explode the metrics), the
// status and the duration. Outermost, so it sees every answer, errors included.
import type { Context, Next } from 'koa';
import type { Logger } from '../log.ts';
import type { Metrics } from './metrics.ts';
import { requestIdFor, setRequestId } from '../http/request-context.ts';

/** Our router's pattern (`/interaction/:uid/login`), the provider's route name (`token`), or a bucket. */
export function routeOf(ctx: Context): string {
  // The provider's route name first: its own router also leaves a matched pattern behind.
  const oidc = (ctx as unknown as { oidc?: { route?: unknown } }).oidc?.route;
  if (typeof oidc === 'string') return oidc;
  const matched = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  return ctx.status === 404 ? 'not_found' : 'other';
}

export function observeRequests({ log, metrics, trustProxy }: { log: Logger; metrics: Metrics; trustProxy: boolean }) {
  return async function observe(ctx: Context, next: Next) {
    const started = performance.now();
    const requestId = requestIdFor(ctx.get('X-Request-Id') || undefined, trustProxy);
    ctx.set('X-Request-Id', requestId);
    setRequestId(ctx, requestId);
    try {
      await next();
    } finally {
      const route = routeOf(ctx);
      const seconds = (performance.now() - started) / 1000;
      metrics.httpRequests.inc({ route, status: String(ctx.status) });
      metrics.httpDuration.observe({ route }, seconds);
      // The introspection answer's result (not the token): is the API being handed live tokens?
      if (route === 'introspection' && ctx.status === 200) {
        metrics.introspections.inc({ result: (ctx.body as { active?: unknown } | undefined)?.active === true ? 'active' : 'inactive' });
      }
      if (route === 'revocation' && ctx.status === 200) log.info('token revoked', { requestId, clientId: (ctx as unknown as { oidc?: { client?: { clientId?: string } } }).oidc?.client?.clientId });
      log.info('request', { requestId, method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 10_000) / 10 });
    }
  };
}
