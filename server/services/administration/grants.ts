// What users delegated, as an operator sees it: a user's grants, and revoking one (every token
// issued under it dies with it).
import type { GrantSummary } from '../grants.ts';
import { ServiceError } from '../errors.ts';
import { actorDetails, iso, type Actor, type Services } from './context.ts';
import type { Grant, GrantList, GrantQuery, Input, Output } from './schemas.ts';

export function grantView(g: GrantSummary): Output<typeof Grant> {
  return {
    grant_id: g.grantId,
    client_id: g.clientId,
    scope: [...g.oidc, ...Object.values(g.resources).flat()].join(' '),
    resources: g.resources,
    granted_at: iso(g.grantedAt),
    expires_at: g.expiresAt ? iso(g.expiresAt) : null,
    authorization_details: g.authorizationDetails,
  };
}

export function grantOperations({ grants, accounts }: Services) {
  return {
    async list(query: Input<typeof GrantQuery>): Promise<Output<typeof GrantList>> {
      const user = query.user !== undefined ? await accounts.findByEmail(query.user) : await accounts.findById(query.user_id as string);
      if (!user) throw new ServiceError(`no user ${query.user ?? query.user_id}`, 'not_found', query.user !== undefined ? 'user' : 'user_id');
      return { grants: (await grants.forAccount(user.id)).map(grantView) };
    },

    async revoke(grantId: string, actor: Actor): Promise<void> {
      const revoked = await grants.revoke(grantId, { actor: 'operator', ...actorDetails(actor) });
      if (!revoked) throw new ServiceError(`no grant ${grantId}`, 'not_found');
    },
  };
}
