// The provider lane (server/http/provider-lane.ts) sends token, introspection and revocation
// requests past our routes and their guards. That is only right while none of them applies to
// those paths: every router among them matches none of the paths with any method, and every
// other guard, given such a request (with every header it could read set), only calls next.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Middleware } from 'koa';
import { startServer, type Harness } from '../helpers/harness.ts';
import { LANE } from '../../server/http/provider-lane.ts';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

interface Router {
  match(path: string, method: string): { path: { methods: string[] }[]; route: boolean };
}

describe('provider lane', () => {
  let server: Harness;
  beforeAll(async () => {
    // Every optional layer present: open registration (its CORS), a metrics route on the public port.
    server = await startServer({ env: { DYNAMIC_REGISTRATION: 'open', METRICS_TOKEN: 'a-metrics-token-of-some-length' } });
  });
  afterAll(() => server.close());

  function lane(): { paths: ReadonlySet<string>; bypassed: Middleware[] } {
    const found = server.app.app.middleware.map((m) => (m as unknown as { [LANE]?: { paths: ReadonlySet<string>; bypassed: Middleware[] } })[LANE]).filter(Boolean);
    expect(found).toHaveLength(1);
    return found[0] as { paths: ReadonlySet<string>; bypassed: Middleware[] };
  }

  it('takes the token, introspection and revocation paths, and every one of our routes', () => {
    const { paths, bypassed } = lane();
    expect([...paths].sort()).toEqual(['/token', '/token/introspection', '/token/revocation']);
    // site, metrics, interactions, account (and their allowedMethods), admin, registration guards.
    expect(bypassed.length).toBeGreaterThan(10);
  });

  it('no router it bypasses matches a provider-only path, whatever the method', () => {
    const { paths, bypassed } = lane();
    const routers = bypassed.map((m) => (m as unknown as { router?: Router }).router).filter((r): r is Router => r !== undefined);
    expect(routers.length).toBeGreaterThanOrEqual(4);
    for (const router of routers) {
      for (const path of paths) {
        for (const method of METHODS) {
          // No route runs, and allowedMethods finds no method to allow (a router-wide `use`
          // matches every path but runs only when a route does, and allows nothing).
          const match = router.match(path, method);
          expect(match.route, `${method} ${path}`).toBe(false);
          expect(match.path.flatMap((layer) => layer.methods), `${method} ${path}`).toEqual([]);
        }
      }
    }
  });

  it('every other guard it bypasses only calls next for a provider-only path', async () => {
    const { paths, bypassed } = lane();
    // Routers' allowedMethods included: they act only on what their routes matched (ctx.matched).
    const guards = bypassed.filter((m) => !(m as unknown as { router?: Router }).router);
    for (const guard of guards) {
      for (const path of paths) {
        for (const method of METHODS) {
          // Any header a guard reads is present (Origin, Sec-Fetch-Site, Authorization...); any
          // other use of the context (setting a header, answering, reading the body) throws.
          const ctx = new Proxy(
            { path, method, get: () => 'https://elsewhere.example', ip: '192.0.2.1', matched: undefined },
            {
              get(target, name) {
                if (name in target) return target[name as keyof typeof target];
                throw new Error(`${guard.name || 'a guard'} used ctx.${String(name)} for ${method} ${path}`);
              },
              set(_target, name) {
                throw new Error(`${guard.name || 'a guard'} set ctx.${String(name)} for ${method} ${path}`);
              },
            },
          );
          let calls = 0;
          await guard(ctx as never, async () => {
            calls += 1;
          });
          expect(calls, `${guard.name || 'a guard'}: ${method} ${path}`).toBe(1);
        }
      }
    }
  });
});
