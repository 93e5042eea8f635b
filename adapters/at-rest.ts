// Protection of data at rest, keyed by the data keys that live outside the database.
// - Lookup keys (token, code, session and interaction ids) are stored as plain SHA-256 digests,
//   not keyed ones: the raw values are 256-bit random strings, so nobody can find a value from
//   its digest, and a stolen row cannot be replayed as a token. (Not keyed, so a data key
//   rotation leaves every lookup key as it is.)
// - Payloads and client secrets are sealed with AES-256-GCM; the associated data binds each
//   sealed value to its model and row, so a row copied into another model or id fails to open
//   (type isolation between codes, refresh tokens, sessions...).
// - Data keys rotate: a sealed value names the key that sealed it (`v2.<key id>.…`); new values
//   are sealed with the active key, older keys only open what they sealed until it is resealed
//   (reseal.ts), so each key's random-nonce budget ends when it is retired. Values from before
//   key ids (`v1.…`) open with whichever key sealed them.
import crypto from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_LENGTH = 8;

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
  /** Stable digest of a lookup value (token id, uid, user code): plain SHA-256. */
  digest(value: string): string;
  seal(plaintext: string, associatedData: string): string;
  /** Throws when the value was sealed with an unknown key or for other associated data. */
  open(sealed: string, associatedData: string): string;
  /** The id of the key new values are sealed with. */
  readonly activeKeyId: string;
  /** The prefix of every value sealed with the active key (what resealing looks for). */
  readonly activePrefix: string;
}

/** A short public name for a data key, written in every value it seals. */
export function dataKeyId(dataKey: string): string {
  return crypto.createHash('sha256').update(`latchkey-data-key-id:${dataKey}`).digest('base64url').slice(0, KEY_ID_LENGTH);
}

function encryptionKey(dataKey: string): Buffer {
  const ikm = Buffer.from(dataKey, 'base64url');
  if (ikm.length !== 32) throw new TypeError('a data key must be 32 bytes');
  return Buffer.from(crypto.hkdfSync('sha256', ikm, Buffer.alloc(0), 'latchkey at-rest encryption v1', 32));
}

function openWith(key: Buffer, raw: Buffer, associatedData: string): string {
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(associatedData));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}

/**
 * `dataKey` seals; it and the `retired` keys (newest first) open. A `v1` value (from before key
 * ids) was sealed by the oldest key, tried first, then the others.
 */
export function createSealer(dataKey: string, retired: readonly string[] = []): Sealer {
  const active = { id: dataKeyId(dataKey), key: encryptionKey(dataKey) };
  const byId = new Map([active, ...retired.map((k) => ({ id: dataKeyId(k), key: encryptionKey(k) }))].map((k) => [k.id, k.key]));
  const oldestFirst = [...byId.values()].reverse();
  const nextNonce = nonceSource();
  const activePrefix = `v2.${active.id}.`;

  return {
    activeKeyId: active.id,
    activePrefix,
    digest(value) {
      // One-shot: the same digest as createHash().update().digest(), without the Hash object.
      return crypto.hash('sha256', value, 'base64url');
    },
    seal(plaintext, associatedData) {
      const iv = nextNonce();
      const cipher = crypto.createCipheriv('aes-256-gcm', active.key, iv);
      cipher.setAAD(Buffer.from(associatedData));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return `${activePrefix}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    open(sealed, associatedData) {
      if (sealed.startsWith('v2.')) {
        const key = byId.get(sealed.slice(3, 3 + KEY_ID_LENGTH));
        if (!key || sealed[3 + KEY_ID_LENGTH] !== '.') throw new Error('sealed with an unknown data key');
        return openWith(key, Buffer.from(sealed.slice(4 + KEY_ID_LENGTH), 'base64url'), associatedData);
      }
      if (!sealed.startsWith('v1.')) throw new Error('unknown sealed value format');
      const raw = Buffer.from(sealed.slice(3), 'base64url');
      for (const key of oldestFirst) {
        try {
          return openWith(key, raw, associatedData);
        } catch {
          // not this key
        }
      }
      throw new Error('sealed with an unknown data key');
    },
  };
}

/** The key id a sealed value names ('v1' for values from before key ids), for counting. */
export function sealedKeyId(sealed: string): string {
  return sealed.startsWith('v2.') ? sealed.slice(3, 3 + KEY_ID_LENGTH) : 'v1';
}

/** SQL giving the key id of a sealed column (for counts per key), on SQLite and PostgreSQL alike. */
export function sealedKeyIdSql(column: string): string {
  return `CASE WHEN ${column} LIKE 'v2.%' THEN substr(${column}, 4, ${KEY_ID_LENGTH}) ELSE 'v1' END`;
}
