// A second layer behind the CSRF tokens: state-changing form posts must come from our own
// pages. Browsers send `Origin` (and `Sec-Fetch-Site`) on cross-site POSTs; a mismatch is
// refused before anything runs (T27c). Requests without either header (non-browser clients,
// old browsers) still need a valid CSRF token.
import type { Context, Next } from 'koa';
import type { Views } from './views.ts';

export function sameOriginPosts({ issuer, views, applies }: { issuer: string; views: Views; applies: (path: string) => boolean }) {
  const expected = new URL(issuer).origin;
  return async function requireSameOrigin(ctx: Context, next: Next) {
    if (ctx.method !== 'POST' || !applies(ctx.path)) return next();
    const origin = ctx.get('origin');
    const site = ctx.get('sec-fetch-site');
    if ((origin && origin !== expected) || site === 'cross-site') {
      await views.respond(
        ctx,
        'error',
        { title: 'Request refused', error: 'invalid_request', explanation: 'This form was sent from another site, so it was not accepted.' },
        403,
      );
      return;
    }
    return next();
  };
}
