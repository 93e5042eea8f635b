// Delegation chains (RFC 8693 token exchange): a resource server that must call another API for
// the user exchanges the access token it received for one to that API.
//
// Rules (refuse, never fall back to another grant):
// - The caller authenticates with its own resource-server credentials and may exchange only for
//   the APIs it was allowed (`latchkey resource add|update RS --may-exchange-for DOWNSTREAM`).
// - The subject token is an access token we issued, live, for a user, whose audience is the
//   caller; its grant still stands and its user is not disabled.
// - The new token's audience is the downstream API; its scopes are at most what the user's grant
//   holds for that API and the caller asks for (never wider, never another user's); it lives no
//   longer than the subject token's remaining life; no refresh token.
// - It carries `act` naming the exchanging service (RFC 8693 §4.1), nested when a chain goes on,
//   and belongs to the original grant: revoking the grant ends it at once.
// - It is recorded under the original app in the user's activity trail.
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { ResourceCatalog } from '../services/resources.ts';
import type { Accounts } from '../services/accounts.ts';
import type { Audit } from '../services/audit.ts';
import { TOKEN_EXCHANGE_GRANT } from '../services/resource-admin.ts';
import { resourceServerInfo } from './scope-policy.ts';
import { addTokenClaims } from './token-claims.ts';

const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const PARAMETERS = ['subject_token', 'subject_token_type', 'resource', 'scope', 'audience', 'requested_token_type', 'actor_token', 'actor_token_type'];

type Act = { sub: string; act?: Act };

function audienceOf(token: { aud?: unknown }): string[] {
  return Array.isArray(token.aud) ? token.aud.map(String) : token.aud === undefined ? [] : [String(token.aud)];
}

export function installTokenExchange(provider: Provider, { catalog, accounts, audit }: { catalog: ResourceCatalog; accounts: Accounts; audit: Audit }): void {
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async function tokenExchange(ctx: KoaContextWithOIDC) {
      const params = ctx.oidc.params as Record<string, string | undefined>;
      const caller = ctx.oidc.client;
      const snapshot = await catalog.current();
      const callerResource = caller ? snapshot.forIntrospectionClient(caller.clientId) : undefined;
      if (!caller || !callerResource?.mayExchangeFor?.length) {
        throw new errors.UnauthorizedClient('only a resource server allowed to exchange tokens (--may-exchange-for) may use this grant');
      }
      if (params.subject_token_type !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
      if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
        throw new errors.InvalidRequest('actor_token is not supported: the caller acts as itself, by its own credentials');
      }
      if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
        throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
      }
      if (params.audience !== undefined) throw new errors.InvalidTarget('name the downstream API with resource (RFC 8707), not audience');
      const target = params.resource;
      if (!target) throw new errors.InvalidTarget('resource (the downstream API) is required');
      const downstream = snapshot.get(target);
      if (!downstream || !callerResource.mayExchangeFor.includes(target)) {
        throw new errors.InvalidTarget(`${callerResource.id} may not exchange tokens for ${target}`);
      }

      const subject = await provider.AccessToken.find(String(params.subject_token));
      if (!subject) throw new errors.InvalidGrant('subject_token is invalid, expired or revoked');
      if (!audienceOf(subject).includes(callerResource.id)) throw new errors.InvalidGrant('subject_token was not issued to the caller');
      if (!subject.accountId || !subject.grantId) throw new errors.InvalidGrant('subject_token does not act for a user');
      const grant = await provider.Grant.find(subject.grantId);
      if (!grant || grant.accountId !== subject.accountId || grant.clientId !== subject.clientId) {
        throw new errors.InvalidGrant('the grant behind subject_token has ended');
      }
      const user = await accounts.findById(subject.accountId);
      if (!user || user.disabled) throw new errors.InvalidGrant('the user of subject_token can no longer sign in');

      const granted = new Set(grant.getResourceScope(target).split(' ').filter(Boolean));
      if (granted.size === 0) throw new errors.InvalidScope(`the user granted the app nothing on ${target}`, '');
      const requested = params.scope?.split(' ').filter(Boolean);
      const beyond = requested?.find((scope) => !granted.has(scope));
      if (beyond) throw new errors.InvalidScope(`the user's grant does not hold ${beyond} for ${target}`, beyond);
      const scope = (requested ?? [...granted]).join(' ');

      const app = await provider.Client.find(String(subject.clientId));
      if (!app) throw new errors.InvalidGrant('the app of subject_token no longer exists');
      const previous = (subject.extra as { act?: Act } | undefined)?.act;
      const act: Act = { sub: caller.clientId, ...(previous ? { act: previous } : {}) };
      const remaining = (subject.exp ?? 0) - Math.floor(Date.now() / 1000);
      if (remaining <= 0) throw new errors.InvalidGrant('subject_token has expired');

      const token = new provider.AccessToken({
        client: app,
        accountId: subject.accountId,
        grantId: subject.grantId,
        scope,
        ...(subject.sessionUid ? { sessionUid: subject.sessionUid } : {}),
        ...(subject.expiresWithSession ? { expiresWithSession: subject.expiresWithSession } : {}),
      } as never);
      addTokenClaims(token, { act });
      token.resourceServer = resourceServerInfo(downstream, granted) as never;
      (token as unknown as { expiresIn: number }).expiresIn = Math.min(downstream.accessTokenTtl, remaining);
      ctx.oidc.entity('AccessToken', token);
      const value = await token.save();

      audit.note({
        event: 'token.exchanged',
        accountId: subject.accountId,
        clientId: String(subject.clientId),
        grantId: subject.grantId,
        actor: 'client',
        ip: ctx.ip,
        details: { through: callerResource.id, resource: target, scope },
      });
      ctx.body = {
        access_token: value,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: token.tokenType,
        expires_in: token.expiration,
        scope,
      };
    },
    PARAMETERS,
  );
}
