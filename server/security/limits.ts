// What every abuse limit shares: its refusal, its keys and the limiter factory's shape.
import crypto from 'node:crypto';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** The request must wait; answered with 429 and Retry-After. */
export class Throttled extends Error {
  override name = 'Throttled';
  constructor(readonly retryAfterSeconds: number) {
    super(`too many attempts; retry after ${retryAfterSeconds} s`);
  }
}

/** Seconds until a refused limiter lets the next attempt through (at least 1). */
export function retryAfter(res: unknown): number {
  return res instanceof RateLimiterRes ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : 60;
}

/** Keys are digests: the table never holds an email address or an IP in the clear. */
export function key(...parts: string[]): string {
  return crypto.createHash('sha256').update(parts.join('\0')).digest('base64url');
}

export type LimiterFactory = (options: { keyPrefix: string; points: number; duration: number }) => RateLimiterAbstract;
