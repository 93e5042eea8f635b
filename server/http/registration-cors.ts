// CORS for dynamic registration (RFC 7591). A browser-based client (the MCP Inspector, a
// single-page agent) registers itself from its own origin; oidc-provider answers CORS for
// discovery, token, revocation and introspection itself, but not for registration. Nothing here
// rides on cookies (registration is bearer-token or open), so any origin may call it; the
// preflight allows the headers MCP clients send (Authorization, Content-Type,
// MCP-Protocol-Version). Our pages stay same-origin only.
import type { Context, Next } from 'koa';

const ALLOWED_HEADERS = 'Authorization, Content-Type, MCP-Protocol-Version';

export function registrationCors(path: string) {
  return async function cors(ctx: Context, next: Next) {
    if (ctx.path !== path || !ctx.get('Origin')) return next();
    ctx.set('Access-Control-Allow-Origin', '*');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'POST');
      ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      ctx.set('Access-Control-Max-Age', '3600');
      ctx.status = 204;
      return;
    }
    ctx.set('Access-Control-Expose-Headers', 'WWW-Authenticate, Retry-After');
    return next();
  };
}
