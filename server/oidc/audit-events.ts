// Protocol events worth a line in the audit trail: tokens issued and refreshed (which also tells
// the account page when an app last used its access), reuse detected, logout, and dynamic
// registration changes. Written in the background: the audit never slows a token response.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Audit } from '../services/audit.ts';

type Ctx = KoaContextWithOIDC;

export function auditProviderEvents(provider: Provider, audit: Audit): void {
  provider.on('grant.success', (ctx: Ctx) => {
    const grantType = ctx.oidc.params?.grant_type;
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') return;
    const grant = ctx.oidc.entities.Grant as { jti?: string; accountId?: string; clientId?: string } | undefined;
    audit.note({
      event: grantType === 'refresh_token' ? 'token.refreshed' : 'token.issued',
      accountId: grant?.accountId,
      clientId: ctx.oidc.client?.clientId,
      grantId: grant?.jti,
      actor: 'client',
      ip: ctx.ip,
    });
  });

  provider.on('end_session.success', (ctx: Ctx) => {
    audit.note({ event: 'logout', accountId: ctx.oidc.session?.accountId, clientId: ctx.oidc.client?.clientId, actor: 'user', ip: ctx.ip });
  });

  const registration = (event: 'registration.created' | 'registration.updated' | 'registration.deleted') => (ctx: Ctx, client: { clientId: string }) =>
    audit.note({ event, clientId: client.clientId, actor: 'client', ip: ctx.ip });
  provider.on('registration_create.success', registration('registration.created'));
  provider.on('registration_update.success', registration('registration.updated'));
  provider.on('registration_delete.success', registration('registration.deleted'));
}
