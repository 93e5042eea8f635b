// The oidc-provider events that matter, logged once each (with the request id, log.ts) and
// counted: tokens issued, refused token requests, registrations, revoked grants, server errors.
// Each handler gets the request's ctx, which carries the request id.
// Ids and names only; never a token, code or secret.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../log.ts';
import type { Metrics } from './metrics.ts';
import { requestIdOf } from '../http/request-context.ts';

type Ctx = KoaContextWithOIDC;

interface Audienced {
  aud?: string | string[];
}

export function observeProviderEvents(provider: Provider, { log, metrics }: { log: Logger; metrics: Metrics }): void {
  provider.on('grant.success', (ctx: Ctx) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? 'unknown');
    const entities = ctx.oidc.entities as { AccessToken?: Audienced; ClientCredentials?: Audienced };
    const aud = (entities.AccessToken ?? entities.ClientCredentials)?.aud;
    const resource = (Array.isArray(aud) ? aud[0] : aud) ?? 'userinfo';
    metrics.tokensIssued.inc({ grant_type: grantType, resource });
    log.info('token issued', { requestId: requestIdOf(ctx), grantType, clientId: ctx.oidc.client?.clientId, resource });
  });
  provider.on('grant.error', (ctx: Ctx, error: { error?: string; error_description?: string }) => {
    log.warn('token request refused', { requestId: requestIdOf(ctx), grantType: ctx.oidc.params?.grant_type, clientId: ctx.oidc.client?.clientId, error: error.error, description: error.error_description });
  });
  provider.on('grant.revoked', (ctx: Ctx) => {
    log.info('grant revoked', { requestId: requestIdOf(ctx), clientId: ctx.oidc?.client?.clientId });
  });
  const registration = (result: 'created' | 'updated' | 'deleted') => (ctx: Ctx, client: { clientId: string }) => {
    metrics.registrations.inc({ result });
    log.info(`client registration ${result}`, { requestId: requestIdOf(ctx), clientId: client.clientId });
  };
  provider.on('registration_create.success', registration('created'));
  provider.on('registration_update.success', registration('updated'));
  provider.on('registration_delete.success', registration('deleted'));
  provider.on('registration_create.error', (ctx: Ctx, error: { error?: string; error_description?: string }) => {
    metrics.registrations.inc({ result: 'refused' });
    log.info('client registration refused', { requestId: requestIdOf(ctx), error: error.error, description: error.error_description });
  });
  // Internal failures, with their cause and stack; clients only ever see `server_error`.
  provider.on('server_error', (ctx: Ctx, error: unknown) => log.error('provider server_error', error, { requestId: requestIdOf(ctx) }));
}
