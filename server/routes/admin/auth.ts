// Who may call the admin API: a bearer of a client-credentials token for `<ISSUER>/admin`
// (latchkey:admin for every route, latchkey:admin.read for reads), checked in process against
// the token store, so a revoked token or a removed client is refused on its next request.
// Refusals follow RFC 6750 §3: 401 invalid_token, 403 insufficient_scope with the scope needed.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { ADMIN_READ_SCOPE, ADMIN_SCOPE } from '../../services/admin-resource.ts';
import type { Actor } from '../../services/administration/index.ts';

export type Access = 'read' | 'write';

export class AdminAuthError extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly error: 'invalid_token' | 'insufficient_scope',
    message: string,
    readonly scope?: string,
  ) {
    super(message);
  }
}

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

export function adminAuthenticator({ provider, audience, resourceMetadata }: { provider: Provider; audience: string; resourceMetadata: string }) {
  const challenge = (error?: AdminAuthError) =>
    [`Bearer realm="latchkey-admin"`, `resource_metadata="${resourceMetadata}"`, ...(error ? [`error="${error.error}"`, `error_description="${error.message}"`] : []), ...(error?.scope ? [`scope="${error.scope}"`] : [])].join(', ');

  async function authenticate(ctx: Context, access: Access): Promise<Actor> {
    const header = ctx.get('Authorization');
    if (!header) throw new AdminAuthError(401, 'invalid_token', 'a bearer access token for the admin API is required');
    const value = BEARER.exec(header)?.[1];
    if (!value) throw new AdminAuthError(401, 'invalid_token', 'the Authorization header must be "Bearer <token>"');
    const token = await provider.ClientCredentials.find(value);
    if (!token) throw new AdminAuthError(401, 'invalid_token', 'the access token is unknown, expired or revoked');
    if (token.aud !== audience && !(Array.isArray(token.aud) && token.aud.includes(audience))) {
      throw new AdminAuthError(401, 'invalid_token', 'the access token is not for the admin API');
    }
    // A sender-constrained token presented as a plain bearer token is refused (RFC 9449 §7.2).
    if (token.isSenderConstrained()) throw new AdminAuthError(401, 'invalid_token', 'sender-constrained tokens are not accepted as bearer tokens');
    const clientId = token.clientId;
    const client = clientId ? await provider.Client.find(clientId) : undefined;
    if (!clientId || !client) throw new AdminAuthError(401, 'invalid_token', 'the client that got this token no longer exists');
    const scopes = new Set(String(token.scope ?? '').split(' '));
    const allowed = scopes.has(ADMIN_SCOPE) || (access === 'read' && scopes.has(ADMIN_READ_SCOPE));
    if (!allowed) {
      const needed = access === 'read' ? ADMIN_READ_SCOPE : ADMIN_SCOPE;
      throw new AdminAuthError(403, 'insufficient_scope', `this request needs the ${needed} scope`, needed);
    }
    return { via: 'admin_api', clientId, ip: ctx.ip };
  }

  return { authenticate, challenge };
}
