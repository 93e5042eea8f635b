// A second layer behind the CSRF tokens: state-changing form posts must come from our own
// pages (T27c). Browsers say where a POST comes from in `Sec-Fetch-Site`; when they do, only
// `same-origin` (and `none`, a user-initiated navigation) passes. Otherwise a foreign `Origin`
// is refused. `Origin: null` is not evidence either way: our own pages send it, because they
// carry `Referrer-Policy: no-referrer`. Requests without either header still need the token.
import type { Context, Next } from 'koa';
import { foreignForm } from './errors.ts';

export function sameOriginPosts({ issuer, applies }: { issuer: string; applies: (path: string) => boolean }) {
  const expected = new URL(issuer).origin;
  return async function requireSameOrigin(ctx: Context, next: Next) {
    if (ctx.method !== 'POST' || !applies(ctx.path)) return next();
    const origin = ctx.get('origin');
    const site = ctx.get('sec-fetch-site');
    const foreign = site ? site !== 'same-origin' && site !== 'none' : Boolean(origin) && origin !== 'null' && origin !== expected;
    if (foreign) throw foreignForm();
    return next();
  };
}
