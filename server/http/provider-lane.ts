// Most of the traffic (token, introspection and revocation requests) is for oidc-provider alone:
// none of our routes answers those paths, and the layers that guard our routes (same-origin
// posts, registration CORS and throttle, the admin API) act only on their own paths. Passed
// through them anyway, every such request paid a dozen middleware calls, router matches and
// their promises for nothing (W1 profile, bench/README.md). The lane sends requests for the
// provider-only paths (exact matches) straight on to the provider; every other request goes
// through our middleware first, in order, as before. test/ops/provider-lane.test.ts checks that
// none of our routes and guards claims a provider-only path.
import compose from 'koa-compose';
import type { Context, Middleware, Next } from 'koa';

/**
 * Takes the middleware registered on `app` from index `from` on (our routes and their guards)
 * and puts one lane in their place: requests for `paths` go straight on to what is registered
 * after it (the provider), every other request through those middleware first.
 */
export function laneForProviderPaths(app: { middleware: Middleware[] }, from: number, paths: ReadonlySet<string>): void {
  const ours = app.middleware.splice(from);
  // Koa's own composition (koa-compose), the same contract as the app's chain.
  const throughOurs = compose(ours);
  const lane = function lane(ctx: Context, next: Next) {
    return paths.has(ctx.path) ? next() : throughOurs(ctx, next);
  };
  app.middleware.push(Object.assign(lane, { [LANE]: { paths, bypassed: ours } }));
}

/** What a lane holds, for the test that checks it bypasses nothing that applies. */
export const LANE = Symbol('provider lane');
