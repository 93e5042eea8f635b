// The issuer is the truth about scheme and host (RFC 9700 §4.13, T23). oidc-provider builds
// endpoint URLs, redirects and expected JWT audiences from the request's own host, and Koa reads
// scheme and host from X-Forwarded-* when it trusts a proxy: a client could make the server
// advertise, redirect to or accept assertions for another host. So every request is pinned to
// the configured issuer before anything reads it. Only the client address still comes from
// X-Forwarded-For, and only with TRUST_PROXY.
import type { Context, Next } from 'koa';

export function pinToIssuer({ issuer, trustProxy }: { issuer: string; trustProxy: boolean }) {
  const { host, protocol } = new URL(issuer);
  const scheme = protocol.replace(':', '');
  // Not async: it only passes the request on (one promise less per request).
  return function pin(ctx: Context, next: Next) {
    const headers = ctx.req.headers;
    headers.host = host;
    // Deleted only when present: a delete turns the headers object into a slow dictionary for
    // every later read of it (the provider reads it many times per request).
    if (headers['x-forwarded-host'] !== undefined) delete headers['x-forwarded-host'];
    if (headers.forwarded !== undefined) delete headers.forwarded;
    headers['x-forwarded-proto'] = scheme;
    if (!trustProxy && headers['x-forwarded-for'] !== undefined) delete headers['x-forwarded-for'];
    return next();
  };
}
