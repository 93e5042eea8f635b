// Where the throttle meets the protocol: client secret checks inside oidc-provider, and the
// registration endpoint in front of it.
import type { Context, Next } from 'koa';
import Provider, { errors } from 'oidc-provider';
import { Throttled, type Throttle } from './throttle.ts';

/** 429 in the provider's own error format (JSON with `error`), with Retry-After. */
class TooManyAttempts extends errors.OIDCProviderError {
  constructor(error: string, description: string) {
    super(429, error);
    this.error_description = description;
    this.expose = true;
  }
}

/**
 * oidc-provider awaits `Client#compareClientSecret` for client_secret_basic and
 * client_secret_post: the one place both methods pass. The comparison always runs (constant
 * time, cheap) and a right secret always authenticates; only a wrong one is counted, against
 * the (client id, address) pair and the address, and once either is over its limit that
 * address's wrong secrets answer 429 instead of 401 (security/throttle.ts).
 */
export function throttleClientSecrets(provider: Provider, throttle: Throttle): void {
  const prototype = provider.Client.prototype as unknown as {
    clientId: string;
    compareClientSecret(actual: string): Promise<boolean> | boolean;
  };
  const compare = prototype.compareClientSecret;
  prototype.compareClientSecret = async function throttledCompare(actual: string) {
    const matches = await compare.call(this, actual);
    if (matches) return true;
    const ctx = Provider.ctx;
    try {
      await throttle.clientAuthFailed(this.clientId, ctx?.ip ?? 'unknown');
    } catch (error) {
      if (!(error instanceof Throttled)) throw error;
      ctx?.set('Retry-After', String(error.retryAfterSeconds));
      throw new TooManyAttempts('invalid_client', `too many failed authentication attempts from this address; retry in ${error.retryAfterSeconds} s`);
    }
    return false;
  };
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
      ctx.status = 429;
      ctx.set('Retry-After', String(error.retryAfterSeconds));
      ctx.body = { error: 'too_many_requests', error_description: `registration limit reached; retry in ${error.retryAfterSeconds} s` };
      return;
    }
    return next();
  };
}
