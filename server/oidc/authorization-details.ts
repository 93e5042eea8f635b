// Rich authorization requests (RFC 9396) on oidc-provider's `features.richAuthorizationRequests`:
// what a requested detail must be, and what each code and token carries.
//
// - A detail's type must be declared by a resource server (authorization-detail-types.ts), that
//   resource server must be on the client's allow-list (`resource_scopes`), and the detail must
//   satisfy the type's JSON Schema; otherwise `invalid_authorization_details` (RFC 9396 §5).
// - The user approves details on the consent page, action by action (routes/consent-details.ts);
//   the grant holds what was approved. A code carries the requested details as far as the grant
//   holds them; a token carries its source's details as far as the grant still holds them (a
//   document withdrawn on the connected-apps page is gone from the next refresh), only those of
//   its audience's types, and, when the token request names details (RFC 9396 §6.1, narrowing on
//   a refresh), only those, which must be within what the source carries.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ResourceCatalog } from '../services/resources.ts';
import { schemaProblem } from '../services/authorization-detail-types.ts';
import { isStorableText } from '../../adapters/storable-text.ts';
import { covers, withinHeld, type Detail } from '../services/detail-grants.ts';
import { allowedResourceScopes, type ScopePolicy } from './scope-policy.ts';
import { requestedDetails } from './requested-details.ts';

type Ctx = KoaContextWithOIDC;
type Client = NonNullable<Ctx['oidc']['client']>;

// A request names a handful of documents; a thousand details is an attack on the consent page.
export const MAX_DETAILS = 50;
// Large requests go through PAR (RFC 9126); beyond this even that is abuse.
const MAX_DETAILS_CHARS = 65_536;

function grantDetails(ctx: Ctx): Detail[] {
  const grant = (ctx.oidc.entities?.Grant ?? ctx.oidc.grant) as { rar?: Detail[] } | undefined;
  return grant?.rar ?? [];
}

/** Every string in a parsed JSON value (keys too) is storable text. */
function storable(value: unknown): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (Array.isArray(value)) return value.every(storable);
  if (value && typeof value === 'object') return Object.entries(value).every(([key, member]) => isStorableText(key) && storable(member));
  return true;
}

/** `types[*].validate` for every type (internals/detail-types.ts serves it for every name). */
export function createDetailValidator(catalog: ResourceCatalog, policy: ScopePolicy) {
  return async function validate(ctx: Ctx, detail: Detail, client: Client): Promise<void> {
    const raw = ctx.oidc.params?.authorization_details;
    if (typeof raw === 'string' && raw.length > MAX_DETAILS_CHARS) throw new errors.InvalidAuthorizationDetails(`authorization_details may have at most ${MAX_DETAILS_CHARS} characters`);
    if ((requestedDetails(ctx)?.length ?? 0) > MAX_DETAILS) throw new errors.InvalidAuthorizationDetails(`at most ${MAX_DETAILS} authorization details per request`);
    // PostgreSQL cannot store a NUL; nothing a user should read contains one either.
    if (!storable(detail)) throw new errors.InvalidAuthorizationDetails('authorization details must be storable text (no NUL characters)');
    // No reload on a miss: an unknown type must not cost a database read per request. A type
    // declared elsewhere is seen within the catalogue's refresh (a second).
    const snapshot = await catalog.current();
    const declared = snapshot.detailType(detail.type);
    if (!declared) throw new errors.InvalidAuthorizationDetails(`unsupported authorization details type ${JSON.stringify(detail.type)}`);
    if (!allowedResourceScopes(client, snapshot, policy).get(declared.resource.id)?.size) {
      throw new errors.InvalidAuthorizationDetails(`authorization details type ${JSON.stringify(detail.type)} is not allowed for this client`);
    }
    const problem = schemaProblem(declared.definition, detail);
    if (problem) throw new errors.InvalidAuthorizationDetails(`authorization details of type ${JSON.stringify(detail.type)} do not match its schema: ${problem}`);
  };
}

export function richAuthorizationRequestsFeature(catalog: ResourceCatalog) {
  return {
    enabled: true,
    // Replaced after construction by a live view of the declared types (internals/detail-types.ts).
    types: {},

    /** The code carries what was asked, as far as the grant (the user's approval) holds it. */
    async authorizationDetailsForGrantSource(ctx: Ctx) {
      const requested = requestedDetails(ctx);
      if (!requested) return undefined;
      const kept = withinHeld(requested, grantDetails(ctx));
      return kept.length ? kept : undefined;
    },

    async authorizationDetailsForAccessToken(ctx: Ctx, token: { resourceServer?: { identifier(): string } }, source: { rar?: Detail[] } | undefined, grantType: string) {
      const requested = requestedDetails(ctx);
      // Details need a user's approval: a client acting on its own has none to carry.
      if (!source) {
        if (requested) throw new errors.InvalidAuthorizationDetails(`authorization_details are not available with the ${grantType} grant`);
        return undefined;
      }
      let held = withinHeld(source.rar ?? [], grantDetails(ctx));
      if (requested) {
        if (!covers(held, requested)) throw new errors.InvalidAuthorizationDetails('authorization_details ask for more than was granted');
        held = withinHeld(requested, held);
      }
      const audience = token.resourceServer?.identifier();
      const snapshot = await catalog.current();
      const forAudience = held.filter((detail) => snapshot.detailType(detail.type)?.resource.id === audience);
      return forAudience.length ? forAudience : undefined;
    },

    /** What the token carries, as far as its grant still holds it (a withdrawn document is gone). */
    async authorizationDetailsForIntrospection(ctx: Ctx, token: { rar?: Detail[]; grantId?: string }) {
      if (!token.rar || !token.grantId) return token.rar;
      // The introspection policy has loaded the grant already (token-policies.ts) in the usual case.
      const loaded = ctx.oidc.entities?.Grant as { jti?: string; rar?: Detail[] } | undefined;
      const grant = loaded?.jti === token.grantId ? loaded : ((await ctx.oidc.provider.Grant.find(token.grantId)) as { rar?: Detail[] } | undefined);
      const kept = withinHeld(token.rar, grant?.rar ?? []);
      return kept.length ? kept : undefined;
    },
  };
}
