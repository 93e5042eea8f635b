// Provider.ctx is documented ("General access to ctx", oidc-provider docs/README.md), not an
// internal, but a lot stands on it: adapters/request-scope.ts keys each request's read-ahead and
// its write unit (write-unit.ts) by it, single-use.ts reads the request's parameters from it in
// RefreshToken.find, and the client secret throttle reads the caller's address from it. This
// pins what they assume, on a real server: inside the adapter calls of one request it is that
// request's context, the same object for every call (a WeakMap key), and the one our own
// middleware saw (mounted with koa-mount, the provider shares our ctx); outside a request it is
// absent. If an upgrade gave adapters a context of its own, or none, read-ahead would silently
// stop and write units would not group, with no other test failing for the right reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Provider, { type Adapter } from 'oidc-provider';
import { currentRequest } from '../../adapters/request-scope.ts';
import { requestIdOf } from '../../server/http/request-context.ts';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { basic, obtainCode, postForm, redeemCode } from '../security/support.ts';

interface Seen {
  model: string;
  method: string;
  ctx: unknown;
  request: object | undefined;
}

describe.each(STORES)('Provider.ctx during adapter calls of a real request (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  const seen: Seen[] = [];
  const restore: Array<() => void> = [];

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    // Watch the provider's own adapter instances; every call still goes to the real one.
    for (const model of ['RefreshToken', 'Grant', 'AccessToken'] as const) {
      const adapter = h.app.provider[model].adapter as Adapter & Record<string, unknown>;
      for (const method of ['find', 'upsert', 'consume'] as const) {
        const real = adapter[method] as (...args: unknown[]) => Promise<unknown>;
        (adapter as Record<string, unknown>)[method] = function watched(this: unknown, ...args: unknown[]) {
          seen.push({ model, method, ctx: Provider.ctx, request: currentRequest() });
          return real.apply(this, args);
        };
        restore.push(() => {
          (adapter as Record<string, unknown>)[method] = real;
        });
      }
    }
  });
  afterAll(async () => {
    for (const undo of restore) undo();
    await h?.close();
  });

  it('is the request’s own context, one object for every adapter call, the one our middleware saw', async () => {
    const issued = await obtainCode(h, f.user, { clientId: f.reader.clientId, redirectUri: REDIRECT, scope: 'openid contacts:read' });
    const reader = { id: f.reader.clientId, secret: f.reader.clientSecret };
    const tokens = (await redeemCode(h, reader, { code: issued.code, redirect_uri: REDIRECT, code_verifier: issued.verifier })).json<{ refresh_token: string }>();

    const contexts: unknown[] = [];
    h.app.provider.once('grant.success', (ctx) => contexts.push(ctx));
    seen.length = 0;
    const answer = await postForm(h.url('/token'), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { headers: { authorization: basic(reader.id, reader.secret) } });
    expect(answer.status).toBe(200);

    const [ctx] = contexts;
    expect(ctx).toBeDefined();
    // The lookups and the writes of this refresh, each inside the request.
    expect(seen.map((call) => `${call.model}.${call.method}`)).toEqual(expect.arrayContaining(['RefreshToken.find', 'Grant.find', 'RefreshToken.consume', 'RefreshToken.upsert', 'AccessToken.upsert']));
    for (const call of seen) {
      expect(call.ctx).toBe(ctx);
      expect(call.request).toBe(ctx);
    }
    // Our outermost middleware gave this context its request id, and sent the same one back.
    expect(requestIdOf(ctx)).toBe(answer.headers.get('x-request-id'));
  });

  it('is absent outside a request (the CLI, our pages’ own calls, tests)', async () => {
    seen.length = 0;
    await h.app.provider.RefreshToken.adapter.find('no-such-token');
    expect(seen).toEqual([{ model: 'RefreshToken', method: 'find', ctx: undefined, request: undefined }]);
  });
});
