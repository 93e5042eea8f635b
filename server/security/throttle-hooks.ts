// Where the throttle meets the protocol: client secret checks inside oidc-provider, and the
// registration endpoint in front of it.
import type { Context, Next } from 'koa';
import Provider, { errors } from 'oidc-provider';
import { onWrongClientSecret } from '../oidc/internals/client-secret-comparison.ts';
import { Throttled, type Throttle } from './throttle.ts';
import { HttpError } from '../http/errors.ts';
import { answerJson } from '../http/error-boundary.ts';

/** 429 in the provider's own error format (JSON with `error`), with Retry-After. */
class TooManyAttempts extends errors.OIDCProviderError {
  constructor(error: string, description: string) {
    super(429, error);
    this.error_description = description;
    this.expose = true;
  }
}

/**
 * Every wrong secret of client_secret_basic and client_secret_post passes one place inside
 * oidc-provider (internals/client-secret-comparison.ts). The comparison always runs (constant
 * time, cheap) and a right secret always authenticates; only a wrong one is counted, against
 * the (client id, address) pair and the address, and once either is over its limit that
 * address's wrong secrets answer 429 instead of 401 (security/throttle.ts).
 */
export function throttleClientSecrets(provider: Provider, throttle: Throttle): void {
  onWrongClientSecret(provider, async (clientId) => {
    const ctx = Provider.ctx;
    try {
      await throttle.clientAuthFailed(clientId, ctx?.ip ?? 'unknown');
    } catch (error) {
      if (!(error instanceof Throttled)) throw error;
      ctx?.set('Retry-After', String(error.retryAfterSeconds));
      throw new TooManyAttempts('invalid_client', `too many failed authentication attempts from this address; retry in ${error.retryAfterSeconds} s`);
    }
  });
}

/** Dynamic registration is limited per initial access token and per IP (T42c). */
export function throttleRegistration(throttle: Throttle, registrationPath: string) {
  return async function limitRegistration(ctx: Context, next: Next) {
    if (ctx.method !== 'POST' || ctx.path !== registrationPath) return next();
    const bearer = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    try {
      await throttle.registration(bearer, ctx.ip);
    } catch (error) {
      if (!(error instanceof Throttled)) throw error;
      // The registration endpoint is an API (RFC 7591): JSON, whatever the Accept header says.
      answerJson(ctx);
      throw new HttpError(429, 'too_many_requests', `Too many registrations; retry in ${error.retryAfterSeconds} s.`, {
        description: `registration limit reached; retry in ${error.retryAfterSeconds} s`,
        headers: { 'Retry-After': String(error.retryAfterSeconds) },
      });
    }
    return next();
  };
}
