// Protection of data at rest, keyed by the data key that lives outside the database.
// - Lookup keys (token, code, session and interaction ids) are stored as SHA-256 digests:
//   the raw values are 256-bit random strings, so a digest is enough and a stolen row cannot
//   be replayed as a token.
// - Payloads and client secrets are sealed with AES-256-GCM; the associated data binds each
//   sealed value to its model and row, so a row copied into another model or id fails to open
//   (type isolation between codes, refresh tokens, sessions...).
import crypto from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;

/**
 * Random 96-bit GCM nonces, drawn from a pool refilled 256 at a time: one call into the CSPRNG
 * per token was a measurable share of a token request (bench:profile, W1). Same randomness,
 * fewer calls; each nonce is copied out, so no two seals share one.
 */
function nonceSource(): () => Buffer {
  const pool = Buffer.alloc(IV_BYTES * 256);
  let offset = pool.length;
  return () => {
    if (offset === pool.length) {
      crypto.randomFillSync(pool);
      offset = 0;
    }
    const iv = Buffer.from(pool.subarray(offset, offset + IV_BYTES));
    offset += IV_BYTES;
    return iv;
  };
}

export interface Sealer {
  /** Stable digest of a lookup value (token id, uid, user code). */
  digest(value: string): string;
  seal(plaintext: string, associatedData: string): string;
  /** Throws when the value was sealed with another key or for other associated data. */
  open(sealed: string, associatedData: string): string;
}

export function createSealer(dataKey: string): Sealer {
  const ikm = Buffer.from(dataKey, 'base64url');
  if (ikm.length !== 32) throw new TypeError('the data key must be 32 bytes');
  const encryptionKey = Buffer.from(crypto.hkdfSync('sha256', ikm, Buffer.alloc(0), 'latchkey at-rest encryption v1', 32));
  const nextNonce = nonceSource();

  return {
    digest(value) {
      return crypto.createHash('sha256').update(value).digest('base64url');
    },
    seal(plaintext, associatedData) {
      const iv = nextNonce();
      const cipher = crypto.createCipheriv('aes-256-gcm', encryptionKey, iv);
      cipher.setAAD(Buffer.from(associatedData));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    open(sealed, associatedData) {
      const [version, encoded] = sealed.split('.', 2);
      if (version !== VERSION || !encoded) throw new Error('unknown sealed value format');
      const raw = Buffer.from(encoded, 'base64url');
      const decipher = crypto.createDecipheriv('aes-256-gcm', encryptionKey, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + 16));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + 16)), decipher.final()]).toString('utf8');
    },
  };
}
