// Anti-CSRF tokens for our forms. A token is an HMAC of the thing the form acts on (an
// interaction uid), so a token taken from one interaction is worthless for another, and no
// server-side state is needed. The interaction itself is also bound to the browser by its cookie.
import crypto from 'node:crypto';

export interface Csrf {
  tokenFor(binding: string): string;
  verify(binding: string, token: unknown): boolean;
}

export function createCsrf(dataKey: string): Csrf {
  const key = Buffer.from(crypto.hkdfSync('sha256', Buffer.from(dataKey, 'base64url'), Buffer.alloc(0), 'latchkey csrf v1', 32));
  const tokenFor = (binding: string) => crypto.createHmac('sha256', key).update(binding).digest('base64url');
  return {
    tokenFor,
    verify(binding, token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 128) return false;
      const expected = Buffer.from(tokenFor(binding));
      const actual = Buffer.from(token);
      return actual.length === expected.length && crypto.timingSafeEqual(actual, expected);
    },
  };
}
