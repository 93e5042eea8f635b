// Who may call the admin API: a bearer of a client-credentials token for `<ISSUER>/admin`
// (latchkey:admin for every route, latchkey:admin.read for reads), checked in process against
// the token store, so a revoked token or a removed client is refused on its next request.
// Refusals follow RFC 6750 §3: 401 invalid_token, 403 insufficient_scope with the scope needed.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { ADMIN_READ_SCOPE, ADMIN_SCOPE } from '../../services/admin-resource.ts';
import type { Actor } from '../../services/administration/index.ts';
import { HttpError } from '../../http/errors.ts';

export type Access = 'read' | 'write';

/** An RFC 6750 refusal, with the challenge that tells the caller where to get a token. */
function refusal(status: 401 | 403, error: 'invalid_token' | 'insufficient_scope', message: string, challenge: string): HttpError {
  return new HttpError(status, error, message, { headers: { 'WWW-Authenticate': challenge } });
}

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/;

export function adminAuthenticator({ provider, audience, resourceMetadata }: { provider: Provider; audience: string; resourceMetadata: string }) {
  const challenge = (error: string, description: string, scope?: string) =>
    [`Bearer realm="latchkey-admin"`, `resource_metadata="${resourceMetadata}"`, `error="${error}"`, `error_description="${description}"`, ...(scope ? [`scope="${scope}"`] : [])].join(', ');
  const invalidToken = (description: string) => refusal(401, 'invalid_token', description, challenge('invalid_token', description));

  async function authenticate(ctx: Context, access: Access): Promise<Actor> {
    const header = ctx.get('Authorization');
    // No credentials at all: a challenge without an error code (RFC 6750 §3.1).
    if (!header) throw refusal(401, 'invalid_token', 'a bearer access token for the admin API is required', `Bearer realm="latchkey-admin", resource_metadata="${resourceMetadata}"`);
    const value = BEARER.exec(header)?.[1];
    if (!value) throw invalidToken('the Authorization header must be "Bearer <token>"');
    const token = await provider.ClientCredentials.find(value);
    if (!token) throw invalidToken('the access token is unknown, expired or revoked');
    if (token.aud !== audience && !(Array.isArray(token.aud) && token.aud.includes(audience))) {
      throw invalidToken('the access token is not for the admin API');
    }
    // A sender-constrained token presented as a plain bearer token is refused (RFC 9449 §7.2).
    if (token.isSenderConstrained()) throw invalidToken('sender-constrained tokens are not accepted as bearer tokens');
    const clientId = token.clientId;
    const client = clientId ? await provider.Client.find(clientId) : undefined;
    if (!clientId || !client) throw invalidToken('the client that got this token no longer exists');
    const scopes = new Set(String(token.scope ?? '').split(' '));
    const allowed = scopes.has(ADMIN_SCOPE) || (access === 'read' && scopes.has(ADMIN_READ_SCOPE));
    if (!allowed) {
      const needed = access === 'read' ? ADMIN_READ_SCOPE : ADMIN_SCOPE;
      const description = `this request needs the ${needed} scope`;
      throw refusal(403, 'insufficient_scope', description, challenge('insufficient_scope', description, needed));
    }
    return { via: 'admin_api', clientId, ip: ctx.ip };
  }

  return { authenticate };
}
