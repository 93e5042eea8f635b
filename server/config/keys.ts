// Key material kept outside the database: signing keys (JWKS), cookie signing keys and the
// at-rest data keys that seal stored payloads and client secrets (and root the CSRF key). Token
// ids are stored as plain SHA-256 digests, which need no key (adapters/at-rest.ts). A stolen
// database alone therefore yields no usable credential and no way to forge one.
//
// Development: generated on first start and persisted to KEYS_FILE (mode 0600), never
// regenerated while the file exists, so tokens survive restarts. Production: must be provided
// (KEYS_FILE or LATCHKEY_KEYS); the server refuses to invent keys that other instances lack.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './env.ts';
import { createSealer, dataKeyId, type Sealer } from '../../adapters/at-rest.ts';
import { ConfigError } from './env.ts';

export interface SigningJwk {
  kty: string;
  kid: string;
  alg: string;
  use: 'sig';
  [member: string]: unknown;
}

export interface KeyMaterial {
  /** Private JWKs, newest (active) first; older ones stay published for verification. */
  signing: SigningJwk[];
  /** Cookie signing secrets, newest first (koa/cookies signs with the first, verifies with all). */
  cookies: string[];
  /** 32 random bytes, base64url: the active data key, which seals (AES-256-GCM) what is written now. */
  data: string;
  /**
   * Earlier data keys, newest first: they still open what they sealed until the server has
   * resealed it under `data` (adapters/reseal.ts); dropped once they seal nothing.
   */
  dataRetired?: string[];
  /**
   * When each superseded key stopped being used for signing (epoch s), keyed by `kid` for
   * signing keys, `cookie:<fingerprint>` for cookie keys and `data:<key id>` for data keys.
   */
  retired?: Record<string, number>;
  /**
   * 32 random bytes, base64url: oidc-provider's `features.dPoP.nonceSecret`, from which the DPoP
   * server nonces (RFC 9449 §8) are derived. Every instance must hold the same one, or a nonce one
   * hands out is refused by the next: it is shared through the database like the signing and
   * cookie keys (services/shared-keys.ts). Key files written before it existed have none; the
   * database then gets one on the first start (see there).
   */
  dpopNonce?: string;
}

export function generateSigningKey(): SigningJwk {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = crypto.createHash('sha256').update(String(jwk.n)).digest('base64url').slice(0, 16);
  return { ...jwk, kty: 'RSA', kid, alg: 'RS256', use: 'sig' } as SigningJwk;
}

export function generateSecret(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

export function generateKeyMaterial(): KeyMaterial {
  return { signing: [generateSigningKey()], cookies: [generateSecret()], data: generateSecret(32), dpopNonce: generateSecret(32) };
}

function validate(raw: unknown, source: string): KeyMaterial {
  const fail = (why: string): never => {
    throw new ConfigError(`key material in ${source} is unusable: ${why}`);
  };
  if (!raw || typeof raw !== 'object') fail('not a JSON object');
  const { signing, cookies, data } = raw as Record<string, unknown>;
  if (!Array.isArray(signing) || signing.length === 0) fail('"signing" must be a non-empty array of private JWKs');
  for (const key of signing as unknown[]) {
    const jwk = key as Record<string, unknown>;
    if (!jwk || typeof jwk.kty !== 'string' || typeof jwk.kid !== 'string' || typeof jwk.d !== 'string') {
      fail('every signing key needs kty, kid and the private member "d"');
    }
  }
  if (!Array.isArray(cookies) || cookies.length === 0 || !cookies.every((c) => typeof c === 'string' && c.length >= 32)) {
    fail('"cookies" must be a non-empty array of secrets of at least 32 characters');
  }
  if (typeof data !== 'string' || Buffer.from(data, 'base64url').length !== 32) {
    fail('"data" must be 32 bytes, base64url-encoded');
  }
  const { dataRetired } = raw as Record<string, unknown>;
  if (dataRetired !== undefined && (!Array.isArray(dataRetired) || !dataRetired.every((k) => typeof k === 'string' && Buffer.from(k, 'base64url').length === 32))) {
    fail('"dataRetired" must be an array of 32-byte base64url data keys');
  }
  const { dpopNonce } = raw as Record<string, unknown>;
  if (dpopNonce !== undefined && (typeof dpopNonce !== 'string' || Buffer.from(dpopNonce, 'base64url').length !== 32)) {
    fail('"dpopNonce" must be 32 bytes, base64url-encoded');
  }
  return raw as KeyMaterial;
}

export function writeKeyFile(file: string, material: KeyMaterial, { exclusive = false } = {}): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const body = `${JSON.stringify(material, null, 2)}\n`;
  if (exclusive) {
    // `wx` fails if another process created the file first; that process's keys win.
    fs.writeFileSync(file, body, { mode: 0o600, flag: 'wx' });
    return;
  }
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, body, { mode: 0o600 });
  fs.renameSync(temporary, file);
}

export interface LoadedKeys {
  material: KeyMaterial;
  /** True when this call generated and persisted new material. */
  generated: boolean;
}

export function loadKeyMaterial(config: Pick<Config, 'env' | 'keysFile' | 'keysJson'>): LoadedKeys {
  if (config.keysJson) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(config.keysJson);
    } catch {
      throw new ConfigError('LATCHKEY_KEYS is not valid JSON');
    }
    return { material: validate(parsed, 'LATCHKEY_KEYS'), generated: false };
  }

  if (fs.existsSync(config.keysFile)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(config.keysFile, 'utf8'));
    } catch (error) {
      throw new ConfigError(`cannot read KEYS_FILE ${config.keysFile}: ${(error as Error).message}`);
    }
    return { material: validate(parsed, config.keysFile), generated: false };
  }

  if (config.env === 'production') {
    throw new ConfigError(
      `no key material: set LATCHKEY_KEYS or provide KEYS_FILE (${config.keysFile}); ` +
        'generate one with `npx latchkey keys init`',
    );
  }

  const material = generateKeyMaterial();
  try {
    writeKeyFile(config.keysFile, material, { exclusive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadKeyMaterial(config);
    throw error;
  }
  return { material, generated: true };
}

/** A short public fingerprint of a data key (the active one by default), stored in the database to detect a key mix-up. */
export function dataKeyFingerprint(material: KeyMaterial, key = material.data): string {
  return crypto.createHash('sha256').update(`latchkey-data-key:${key}`).digest('base64url').slice(0, 22);
}

/** Every data key: the active one first, then the retired ones, newest first. */
export function dataKeys(material: KeyMaterial): string[] {
  return [material.data, ...(material.dataRetired ?? [])];
}

/** The sealer for this key material: seals with the active data key, opens with all of them. */
export function sealerFor(material: KeyMaterial): Sealer {
  return createSealer(material.data, material.dataRetired ?? []);
}

/**
 * A new active data key; the current one is retired (it keeps opening what it sealed until that
 * is resealed). Rotating often keeps each key's random-nonce budget far from its limit.
 */
export function rotateDataKey(material: KeyMaterial, now = Math.floor(Date.now() / 1000)): KeyMaterial {
  return {
    ...material,
    data: generateSecret(32),
    dataRetired: [material.data, ...(material.dataRetired ?? [])],
    retired: { ...material.retired, [`data:${dataKeyId(material.data)}`]: now },
  };
}

/** Drops retired data keys that seal no row any more (`sealing`: rows per key id). */
export function pruneDataKeys(material: KeyMaterial, sealing: ReadonlyMap<string, number>): { material: KeyMaterial; dropped: string[] } {
  const dropped: string[] = [];
  const kept = (material.dataRetired ?? []).filter((key) => {
    const id = dataKeyId(key);
    // Values from before key ids (`v1`) were sealed by the oldest key.
    const isOldest = key === (material.dataRetired ?? []).at(-1);
    const rows = (sealing.get(id) ?? 0) + (isOldest ? (sealing.get('v1') ?? 0) : 0);
    if (rows > 0) return true;
    dropped.push(id);
    return false;
  });
  if (dropped.length === 0) return { material, dropped };
  const retired = Object.fromEntries(Object.entries(material.retired ?? {}).filter(([id]) => !dropped.some((d) => id === `data:${d}`)));
  const next: KeyMaterial = { ...material, retired };
  if (kept.length) next.dataRetired = kept;
  else delete next.dataRetired;
  return { material: next, dropped };
}

export function cookieKeyId(secret: string): string {
  return `cookie:${crypto.createHash('sha256').update(secret).digest('base64url').slice(0, 12)}`;
}

export interface Retention {
  /** How long a superseded signing key stays published: the longest token lifetime (s). */
  signingSeconds: number;
  /** How long a superseded cookie key is still accepted: the session lifetime (s). */
  cookieSeconds: number;
}

/**
 * Key rotation: a new signing key (and/or cookie key) becomes active, the previous ones stay
 * for verification until everything they signed has expired, then they are dropped.
 */
export function rotateKeys(
  material: KeyMaterial,
  { signing = true, cookies = true, now = Math.floor(Date.now() / 1000), retention }: { signing?: boolean; cookies?: boolean; now?: number; retention: Retention },
): KeyMaterial {
  const retired = { ...material.retired };
  let signingKeys = material.signing;
  let cookieKeys = material.cookies;
  if (signing) {
    const current = signingKeys[0];
    if (current) retired[current.kid] ??= now;
    signingKeys = [generateSigningKey(), ...signingKeys];
  }
  if (cookies) {
    const current = cookieKeys[0];
    if (current) retired[cookieKeyId(current)] ??= now;
    cookieKeys = [generateSecret(), ...cookieKeys];
  }
  const keep = (id: string, seconds: number) => retired[id] === undefined || now - (retired[id] as number) < seconds;
  signingKeys = signingKeys.filter((key, index) => index === 0 || keep(key.kid, retention.signingSeconds));
  cookieKeys = cookieKeys.filter((key, index) => index === 0 || keep(cookieKeyId(key), retention.cookieSeconds));
  const live = new Set([...signingKeys.map((k) => k.kid), ...cookieKeys.map(cookieKeyId)]);
  return {
    ...material,
    signing: signingKeys,
    cookies: cookieKeys,
    retired: Object.fromEntries(Object.entries(retired).filter(([id]) => live.has(id))),
  };
}

export interface KeyDescription {
  kind: 'signing' | 'cookie' | 'data';
  id: string;
  alg?: string;
  /** Data keys: `active` seals, `retired` only opens what it sealed until that is resealed. */
  status: 'active' | 'verify-only' | 'retired';
  retired_at?: string;
  /** Data keys: how many stored values (payloads and client secrets) the key still seals. */
  sealed_rows?: number;
}

export function describeKeys(material: KeyMaterial, sealing?: ReadonlyMap<string, number>): KeyDescription[] {
  const when = (id: string) => (material.retired?.[id] ? new Date((material.retired[id] as number) * 1000).toISOString() : undefined);
  return [
    ...material.signing.map((key, index) => ({
      kind: 'signing' as const,
      id: key.kid,
      alg: key.alg,
      status: index === 0 ? ('active' as const) : ('verify-only' as const),
      ...(index > 0 && when(key.kid) ? { retired_at: when(key.kid) } : {}),
    })),
    ...material.cookies.map((secret, index) => ({
      kind: 'cookie' as const,
      id: cookieKeyId(secret),
      status: index === 0 ? ('active' as const) : ('verify-only' as const),
      ...(index > 0 && when(cookieKeyId(secret)) ? { retired_at: when(cookieKeyId(secret)) } : {}),
    })),
    ...dataKeys(material).map((key, index, all) => {
      const id = dataKeyId(key);
      const legacy = index === all.length - 1 ? (sealing?.get('v1') ?? 0) : 0;
      return {
        kind: 'data' as const,
        id,
        status: index === 0 ? ('active' as const) : ('retired' as const),
        ...(index > 0 && when(`data:${id}`) ? { retired_at: when(`data:${id}`) } : {}),
        ...(sealing ? { sealed_rows: (sealing.get(id) ?? 0) + legacy } : {}),
      };
    }),
  ];
}
