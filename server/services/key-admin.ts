// Key management for operators (the CLI and the admin API alike): list the keys and what the data
// keys still seal, rotate signing and cookie keys (in the database, where every instance reads
// them within KEYS_POLL_SECONDS), rotate the data key (in KEYS_FILE, which every instance must
// share), and drop retired data keys once they seal nothing.
import type { Knex } from 'knex';
import type { Config } from '../config/env.ts';
import {
  describeKeys,
  loadKeyMaterial,
  pruneDataKeys,
  rotateDataKey,
  rotateKeys,
  sealerFor,
  writeKeyFile,
  type KeyDescription,
  type KeyMaterial,
} from '../config/keys.ts';
import { replaceSharedKeys } from '../../adapters/key-store.ts';
import { loadSharedKeys, providerKeysOf, withSharedKeys } from './shared-keys.ts';
import { countSealedByKey } from '../../adapters/reseal.ts';
import { checkKeyPairing } from './key-pairing.ts';
import { ServiceError } from './errors.ts';

export class KeyAdminError extends ServiceError {
  override name = 'KeyAdminError';
}

export interface Rotation {
  signing?: boolean;
  cookies?: boolean;
  data?: boolean;
}

export function createKeyAdmin(
  db: Knex,
  config: Readonly<Config>,
  /** The key file's material as this process has it (a running server's, kept current by key-watch.ts); read afresh by default (the CLI). */
  fileKeys: () => KeyMaterial = () => loadKeyMaterial(config).material,
) {
  const source = config.keysJson ? 'LATCHKEY_KEYS' : config.keysFile;

  /** The file's data keys with the shared signing and cookie keys, and the shared row's version. */
  async function current(): Promise<{ file: KeyMaterial; keys: KeyMaterial; version: number }> {
    const file = fileKeys();
    await checkKeyPairing(db, file, source);
    const shared = await loadSharedKeys(db, file);
    return { file, keys: withSharedKeys(file, shared.keys), version: shared.version };
  }

  /** Writes the key file with retired data keys that seal nothing dropped; returns their ids. */
  async function writeFile(file: KeyMaterial): Promise<string[]> {
    const pruned = file.dataRetired?.length ? pruneDataKeys(file, await countSealedByKey(db)) : { material: file, dropped: [] };
    writeKeyFile(config.keysFile, pruned.material);
    return pruned.dropped;
  }

  return {
    async list(): Promise<KeyDescription[]> {
      const { keys } = await current();
      return describeKeys(keys, await countSealedByKey(db));
    },

    /**
     * Signing and cookie keys: a new one becomes active, the old ones stay for verification until
     * everything they signed has expired (plus clock tolerance), then they go. Compare-and-swap on
     * the shared row: two rotations at once both take effect, one after the other.
     */
    async rotate(what: Rotation): Promise<{ keys: KeyDescription[]; dropped: string[] }> {
      if (what.data) {
        if (config.keysJson) throw new KeyAdminError('the data key comes from LATCHKEY_KEYS: rotate it in your secret store (or use KEYS_FILE)');
        const { file } = await current();
        const rotated = rotateDataKey(file);
        writeKeyFile(config.keysFile, rotated);
        // The database records the new active data key now (checkKeyPairing).
        const after = await current();
        return { keys: describeKeys(after.keys, await countSealedByKey(db)), dropped: [] };
      }
      const longestToken = Math.max(config.ttl.idToken, config.ttl.accessToken, config.ttl.clientCredentials, 86_400);
      const retention = { signingSeconds: longestToken + 300, cookieSeconds: config.ttl.session + config.ttl.interaction };
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const { file, keys, version } = await current();
        const rotated = rotateKeys(keys, { signing: what.signing !== false, cookies: what.cookies !== false, retention });
        if (await replaceSharedKeys(db, sealerFor(file), providerKeysOf(rotated), version)) {
          const dropped = config.keysJson ? [] : await writeFile(file);
          const after = await current();
          return { keys: describeKeys(after.keys, await countSealedByKey(db)), dropped };
        }
      }
      throw new KeyAdminError('the keys kept changing while they were being rotated; try again');
    },

    /** Drops retired data keys that seal nothing from the key file. */
    async prune(): Promise<{ keys: KeyDescription[]; dropped: string[] }> {
      if (config.keysJson) throw new KeyAdminError('the data keys come from LATCHKEY_KEYS: remove retired ones in your secret store');
      const { file } = await current();
      const dropped = await writeFile(file);
      const after = await current();
      return { keys: describeKeys(after.keys, await countSealedByKey(db)), dropped };
    },
  };
}

export type KeyAdmin = ReturnType<typeof createKeyAdmin>;
