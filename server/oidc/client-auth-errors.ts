// RFC 6749 §5.2: a request to an endpoint that needs client authentication, without any, is
// `401 invalid_client` with a WWW-Authenticate challenge. oidc-provider answers it as
// `400 invalid_request` with a fixed description (internals/client-auth-messages.ts); this
// rewrites exactly that answer (T19, T20).
import type { Context, Next } from 'koa';
import { NO_CLIENT_AUTHENTICATION } from './internals/client-auth-messages.ts';

const ROUTES = new Set(['token', 'introspection', 'revocation', 'pushed_authorization_request']);

export function missingClientAuthIs401({ issuer }: { issuer: string }) {
  return async function rewrite(ctx: Context, next: Next) {
    await next();
    const route = (ctx as unknown as { oidc?: { route?: string } }).oidc?.route;
    const body = ctx.body as { error?: string; error_description?: string } | undefined;
    if (ctx.status !== 400 || !route || !ROUTES.has(route) || body?.error_description !== NO_CLIENT_AUTHENTICATION) return;
    ctx.status = 401;
    ctx.set('WWW-Authenticate', `Basic realm="${issuer}"`);
    ctx.body = { error: 'invalid_client', error_description: 'client authentication is required' };
  };
}
