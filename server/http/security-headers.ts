// Headers every response carries, set on the way in so they hold even for routes that end the
// response themselves (oidc-provider v9 routes do not call downstream middleware).
// RFC 9700 §4.16 (clickjacking), §4.2.4 (referrer leakage); OWASP ASVS 3.4.
import type { Context, Next } from 'koa';

const FORM_ACTION_KEY = Symbol('form-action origins');

type StateWithFormAction = { [FORM_ACTION_KEY]?: Set<string> };

/** The CSP source expression for a redirect target: its origin, or its scheme for custom schemes. */
function sourceFor(uri: string): string | undefined {
  const url = URL.parse(uri);
  if (!url) return undefined;
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  // Private-use URI schemes of native apps (RFC 8252 §7.1).
  return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol) ? url.protocol : undefined;
}

/**
 * Browsers check CSP `form-action` against every redirect that follows a form submission, so a
 * page whose form ends in a redirect to the client must allow that client's redirect target.
 * Call only with a URI already validated against the client's registration.
 */
export function allowFormAction(ctx: Context, uri: string): void {
  const source = sourceFor(uri);
  if (!source) return;
  const state = ctx.state as StateWithFormAction;
  (state[FORM_ACTION_KEY] ??= new Set()).add(source);
}

function policyWith(formActions: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    `form-action 'self'${formActions.length ? ` ${formActions.join(' ')}` : ''}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** The policy of nearly every response (no redirect target to allow), built once. */
const DEFAULT_POLICY = policyWith([]);

function contentSecurityPolicy(ctx: Context): string {
  const extra = (ctx.state as StateWithFormAction)[FORM_ACTION_KEY];
  return extra?.size ? policyWith([...extra]) : DEFAULT_POLICY;
}

interface ProviderView {
  oidc?: {
    params?: { redirect_uri?: unknown };
    client?: { redirectUriAllowed(uri: string): boolean };
  };
}

export function securityHeaders({ hsts }: { hsts: boolean }) {
  return async function setSecurityHeaders(ctx: Context, next: Next) {
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set('Cache-Control', 'no-store');
    const policy = contentSecurityPolicy(ctx);
    ctx.set('Content-Security-Policy', policy);
    if (hsts && ctx.secure) ctx.set('Strict-Transport-Security', 'max-age=31536000');
    try {
      await next();
    } finally {
      // The provider's own HTML (form_post responses) submits to the client's redirect_uri.
      const { oidc } = ctx as unknown as ProviderView;
      const redirectUri = oidc?.params?.redirect_uri;
      if (typeof redirectUri === 'string' && oidc?.client?.redirectUriAllowed(redirectUri)) {
        allowFormAction(ctx, redirectUri);
      }
      const current = ctx.response.get('Content-Security-Policy');
      // Unchanged since it was set, and no form-action to add: nothing to redo (token requests).
      const unchanged = current === policy && contentSecurityPolicy(ctx) === policy;
      if (!unchanged && current.startsWith("default-src 'none'")) {
        // Keep any script hash the provider appended (script_src_sha.js), refresh form-action.
        const hashes = current.match(/'sha256-[^']+'/g) ?? [];
        let csp = contentSecurityPolicy(ctx);
        if (hashes.length) csp = csp.replace("script-src 'self'", `script-src 'self' ${hashes.join(' ')}`);
        ctx.set('Content-Security-Policy', csp);
      }
    }
  };
}
