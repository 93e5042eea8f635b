// The keys every instance shares through the database (adapters/key-store.ts): signing keys,
// cookie keys and the DPoP nonce secret. The data keys stay in KEYS_FILE or LATCHKEY_KEYS; the
// file's own shared keys only seed the database on the first start, after which the database's
// copy is the truth (rotated there, read by every instance within KEYS_POLL_SECONDS).
import type { Knex } from 'knex';
import { generateSecret, sealerFor, type KeyMaterial, type SigningJwk } from '../config/keys.ts';
import { initializeSharedKeys, readSharedKeys, replaceSharedKeys, type SharedKeys } from '../../adapters/key-store.ts';

export interface ProviderKeys {
  signing: SigningJwk[];
  cookies: string[];
  retired?: Record<string, number>;
  /** DPoP nonce secret (KeyMaterial.dpopNonce); absent in rows written before it existed. */
  dpopNonce?: string;
}

/** What goes to the database: signing and cookie keys and the DPoP nonce secret, never the data keys. */
export function providerKeysOf(material: KeyMaterial): ProviderKeys {
  const retired = Object.fromEntries(Object.entries(material.retired ?? {}).filter(([id]) => !id.startsWith('data:')));
  return {
    signing: material.signing,
    cookies: material.cookies,
    ...(Object.keys(retired).length ? { retired } : {}),
    ...(material.dpopNonce ? { dpopNonce: material.dpopNonce } : {}),
  };
}

/**
 * The key material an instance runs with: the data keys from KEYS_FILE or LATCHKEY_KEYS (the same
 * on every instance), everything else from the database (shared, rotated in one place).
 */
export function withSharedKeys(file: KeyMaterial, shared: ProviderKeys): KeyMaterial {
  const dataRetired = Object.fromEntries(Object.entries(file.retired ?? {}).filter(([id]) => id.startsWith('data:')));
  const retired = { ...shared.retired, ...dataRetired };
  return {
    signing: shared.signing,
    cookies: shared.cookies,
    data: file.data,
    ...(file.dataRetired?.length ? { dataRetired: file.dataRetired } : {}),
    ...(Object.keys(retired).length ? { retired } : {}),
    ...(shared.dpopNonce ? { dpopNonce: shared.dpopNonce } : {}),
  };
}

/**
 * The shared keys, stored from `file` if no instance has yet. A row written before the DPoP
 * nonce secret existed (or by an older instance that rotated keys without knowing the field)
 * gets one here: the key file's own if it has one, a new random one otherwise, written with a
 * compare-and-swap on the row's version, so that of several instances upgrading at once one
 * secret wins and every instance reads that one. The version moves, so running instances pick
 * the secret up at their next poll. Nothing else changes, and no key file is rewritten: an old
 * key file keeps working as it is.
 */
export async function loadSharedKeys(db: Knex, file: KeyMaterial): Promise<SharedKeys<ProviderKeys>> {
  const sealer = sealerFor(file);
  let shared = (await readSharedKeys<ProviderKeys>(db, sealer)) ?? (await initializeSharedKeys<ProviderKeys>(db, sealer, providerKeysOf(file)));
  for (let attempt = 0; !shared.keys.dpopNonce && attempt < 5; attempt += 1) {
    const upgraded: ProviderKeys = { ...shared.keys, dpopNonce: file.dpopNonce ?? generateSecret(32) };
    if (await replaceSharedKeys(db, sealer, upgraded, shared.version)) return { keys: upgraded, version: shared.version + 1 };
    shared = (await readSharedKeys<ProviderKeys>(db, sealer)) as SharedKeys<ProviderKeys>;
  }
  if (!shared.keys.dpopNonce) throw new Error('the shared keys kept changing while the DPoP nonce secret was being added; start again');
  return shared;
}
