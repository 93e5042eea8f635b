// Protection of data at rest, keyed by the data key that lives outside the database.
// - Lookup keys (token, code, session and interaction ids) are stored as SHA-256 digests:
//   the raw values are 256-bit random strings, so a digest is enough and a stolen row cannot
//   be replayed as a token.
// - Payloads and client secrets are sealed with AES-256-GCM; the associated data binds each
//   sealed value to its model and row, so a row copied into another model or id fails to open
//   (type isolation between codes, refresh tokens, sessions...).
import crypto from 'node:crypto';

const VERSION = 'v1';

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

  return {
    digest(value) {
      return crypto.createHash('sha256').update(value).digest('base64url');
    },
    seal(plaintext, associatedData) {
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', encryptionKey, iv);
      cipher.setAAD(Buffer.from(associatedData));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    open(sealed, associatedData) {
      const [version, encoded] = sealed.split('.', 2);
      if (version !== VERSION || !encoded) throw new Error('unknown sealed value format');
      const raw = Buffer.from(encoded, 'base64url');
      const decipher = crypto.createDecipheriv('aes-256-gcm', encryptionKey, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}
