// Who may learn about, or revoke, which token.
import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ResourceCatalog } from '../services/resources.ts';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;
interface IntrospectedToken {
  kind: string;
  clientId?: string;
  aud?: string | string[];
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
  return async function allowedPolicy(_ctx: KoaContextWithOIDC, client: Client, token: IntrospectedToken) {
    if (token.kind === 'RefreshToken') return token.clientId === client.clientId;
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
