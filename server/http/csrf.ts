// Anti-CSRF tokens for our forms. A token is an HMAC of the thing the form acts on (an
// interaction uid), so a token taken from one interaction is worthless for another, and no
// server-side state is needed. The interaction itself is also bound to the browser by its cookie.
// The HMAC key derives from the active data key; a form rendered before a data key rotation is
// still accepted (its key derives from a retired one).
import crypto from 'node:crypto';

export interface Csrf {
  tokenFor(binding: string): string;
  verify(binding: string, token: unknown): boolean;
}

export function createCsrf(dataKey: string, retired: readonly string[] = []): Csrf {
  const keys = [dataKey, ...retired].map((k) => Buffer.from(crypto.hkdfSync('sha256', Buffer.from(k, 'base64url'), Buffer.alloc(0), 'latchkey csrf v1', 32)));
  const tokenWith = (key: Buffer, binding: string) => crypto.createHmac('sha256', key).update(binding).digest('base64url');
  return {
    tokenFor: (binding) => tokenWith(keys[0] as Buffer, binding),
    verify(binding, token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 128) return false;
      const actual = Buffer.from(token);
      return keys.some((key) => {
        const expected = Buffer.from(tokenWith(key, binding));
        return actual.length === expected.length && crypto.timingSafeEqual(actual, expected);
      });
    },
  };
}
