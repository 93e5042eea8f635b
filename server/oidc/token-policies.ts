// Who may learn about, or revoke, which token.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ResourceCatalog } from '../services/resources.ts';
import { exceedsGrant, narrowToGrant, type GrantScopes } from '../services/grant-scopes.ts';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;
interface IntrospectedToken {
  kind: string;
  clientId?: string;
  aud?: string | string[];
  scope?: string;
}

function audiences(token: IntrospectedToken): string[] {
  if (token.aud === undefined) return [];
  return Array.isArray(token.aud) ? token.aud : [token.aud];
}

/**
 * RFC 7662 §4: introspection must not become a token-scanning oracle. An access token is
 * described only to the resource server it is for (its audience); a refresh token only to the
 * client it was issued to. Everyone else gets `{"active": false}`.
 */
export function createIntrospectionPolicy(catalog: ResourceCatalog) {
  return async function allowedPolicy(ctx: KoaContextWithOIDC, client: Client, token: IntrospectedToken) {
    // The provider has loaded the token's grant by now: a token carrying a scope the user has
    // since removed is recalled (grant-bound.ts), a refresh token is described as narrowed.
    const grant = ctx.oidc.entities.Grant as GrantScopes | undefined;
    if (token.kind === 'RefreshToken') {
      if (token.clientId !== client.clientId) return false;
      if (grant) token.scope = narrowToGrant(token, grant).scope;
      return true;
    }
    if (token.kind === 'AccessToken' && grant && exceedsGrant(token, grant)) return false;
    const resource = (await catalog.current()).forIntrospectionClient(client.clientId);
    if (!resource) return false;
    const aud = audiences(token);
    return aud.length === 1 && aud[0] === resource.id;
  };
}

/**
 * RFC 7009 §2.1: a client revokes its own tokens. A resource server may also revoke an access
 * token whose audience it is (e.g. on detecting abuse).
 */
export function createRevocationPolicy(catalog: ResourceCatalog) {
  return async function allowedPolicy(_ctx: KoaContextWithOIDC, client: Client, token: IntrospectedToken) {
    if (token.clientId === client.clientId) return true;
    const resource = (await catalog.current()).forIntrospectionClient(client.clientId);
    if (resource && token.kind !== 'RefreshToken' && audiences(token).includes(resource.id)) return true;
    if (client.clientAuthMethod === 'none') return false;
    throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
  };
}
