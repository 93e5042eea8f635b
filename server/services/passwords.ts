// Password hashing with scrypt (memory-hard, from node:crypto). Parameters follow OWASP's
// scrypt guidance (N=2^15, r=8, p=3: 32 MiB per hash) and are stored in each hash so they can
// be raised later without invalidating existing users.
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

const DEFAULT = { N: 2 ** 15, r: 8, p: 3 };
const KEY_LENGTH = 32;

function maxmem(N: number, r: number) {
  return 128 * N * r * 2;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const { N, r, p } = DEFAULT;
  const key = await scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { N, r, p, maxmem: maxmem(N, r) });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, expected] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !expected) return false;
  const N = Number(n);
  const R = Number(r);
  const expectedKey = Buffer.from(expected, 'base64url');
  const key = await scrypt(password.normalize('NFKC'), Buffer.from(salt, 'base64url'), expectedKey.length, {
    N,
    r: R,
    p: Number(p),
    maxmem: maxmem(N, R),
  });
  return crypto.timingSafeEqual(key, expectedKey);
}

/**
 * A hash of a random password, verified against when the account does not exist so that an
 * unknown email costs the same time as a wrong password (no account enumeration by timing).
 */
export const dummyPasswordHash = hashPassword(crypto.randomBytes(16).toString('base64url'));
