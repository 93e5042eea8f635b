// Pages the provider renders itself (errors, logout), drawn with our views so they carry the
// same look, no third-party content and no inline script (RFC 9700 §4.2.4; T25/T26).
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Views } from '../http/views.ts';
import { allowFormAction } from '../http/security-headers.ts';
import type { Context } from 'koa';

type Ctx = KoaContextWithOIDC;

const FRIENDLY: Record<string, string> = {
  invalid_request: 'The app sent a request this server cannot accept.',
  invalid_client: 'The app that sent you here is not registered with this server.',
  invalid_redirect_uri: 'The app asked to send you back to an address it has not registered, so you were not sent there.',
  unauthorized_client: 'This app is not allowed to make this request.',
  unsupported_response_type: 'The app asked for a kind of response this server does not give.',
  invalid_scope: 'The app asked for a permission that does not exist or that it may not ask for.',
  invalid_target: 'The app asked for access to a service it may not use.',
  access_denied: 'Access was not granted.',
  server_error: 'Something went wrong on our side. Please try again in a moment.',
  temporarily_unavailable: 'The service is busy. Please try again in a moment.',
};

export function explainError(error: string): string {
  return FRIENDLY[error] ?? 'The request could not be completed.';
}

/** Endpoints whose errors are JSON whatever the Accept header says (RFC 6749 §5.2, RFC 7591 §3.2.2). */
const JSON_ROUTES = new Set([
  'token',
  'introspection',
  'revocation',
  'registration',
  'client',
  'client_update',
  'client_delete',
  'userinfo',
  'pushed_authorization_request',
  'jwks',
  'discovery',
]);

export function createErrorPage(views: Views) {
  return async function renderError(ctx: Ctx, out: { error: string; error_description?: string }) {
    // oidc-provider renders HTML when the caller prefers it; API callers still get JSON.
    if (JSON_ROUTES.has(String(ctx.oidc?.route))) {
      ctx.type = 'json';
      ctx.body = out;
      return;
    }
    ctx.type = 'html';
    ctx.body = await views.render('error', {
      title: 'Something went wrong',
      error: out.error,
      description: out.error_description,
      explanation: explainError(out.error),
    });
  };
}

export function createLogoutPages(views: Views) {
  return {
    async logoutSource(ctx: Ctx, form: string) {
      const client = ctx.oidc.client;
      const redirect = ctx.oidc.params?.post_logout_redirect_uri;
      if (typeof redirect === 'string') allowFormAction(ctx as unknown as Context, redirect);
      // What signing out will do to each app used in this session (T31, issue 5).
      const authorizations = (ctx.oidc.session?.authorizations ?? {}) as Record<string, { persistsLogout?: boolean }>;
      const ending: string[] = [];
      const keeping: string[] = [];
      for (const [clientId, authorization] of Object.entries(authorizations)) {
        const app = await ctx.oidc.provider.Client.find(clientId);
        // A client that no longer exists (removed by an operator, or the account area's retired
        // one in sessions from before it signed in on its own page) has no name to show; the
        // logout still revokes what the session gave it.
        if (!app) continue;
        (authorization.persistsLogout ? keeping : ending).push(app.clientName ?? clientId);
      }
      ctx.type = 'html';
      ctx.body = await views.render('logout', {
        title: 'Sign out',
        // Built by oidc-provider: a hidden form carrying its own anti-CSRF value.
        providerForm: form,
        clientName: client ? (client.clientName ?? client.clientId) : undefined,
        ending,
        keeping,
      });
    },

    async postLogoutSuccessSource(ctx: Ctx) {
      const client = ctx.oidc.client;
      ctx.type = 'html';
      ctx.body = await views.render('logged-out', {
        title: 'Signed out',
        clientName: client ? (client.clientName ?? client.clientId) : undefined,
      });
    },
  };
}
