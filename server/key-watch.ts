// Keeps a running instance on the current keys. The data keys come from KEYS_FILE or
// LATCHKEY_KEYS (watched: the file's change, or SIGHUP); the signing and cookie keys every
// instance shares from the database, whose row version is read every KEYS_POLL_SECONDS: a
// `latchkey keys rotate` made on any host reaches every instance within that interval. A change
// rebuilds the app around the new keys (oidc-provider fixes its keystore at construction).
import fs from 'node:fs';
import type { Knex } from 'knex';
import type { Config } from './config/env.ts';
import { dataKeys, loadKeyMaterial, type KeyMaterial } from './config/keys.ts';
import { sharedKeysVersion } from '../adapters/key-store.ts';
import { loadSharedKeys, withSharedKeys } from './services/shared-keys.ts';
import { checkKeyPairing } from './services/key-pairing.ts';
import type { Logger } from './log.ts';

export interface KeyWatch {
  current(): KeyMaterial;
  stop(): void;
}

export function watchKeys({
  config,
  db,
  log,
  initial,
  apply,
}: {
  config: Readonly<Config>;
  db: Knex;
  log: Logger;
  initial: { keys: KeyMaterial; version: number };
  /** Rebuilds what depends on the keys; awaited before the next change is looked at. */
  apply(next: KeyMaterial, reason: string): Promise<void>;
}): KeyWatch {
  let keys = initial.keys;
  let version = initial.version;
  const source = config.keysJson ? 'LATCHKEY_KEYS' : config.keysFile;

  async function load(): Promise<{ keys: KeyMaterial; version: number }> {
    const file = loadKeyMaterial(config).material;
    const shared = await loadSharedKeys(db, file);
    return { keys: withSharedKeys(file, shared.keys), version: shared.version };
  }

  // One look at a time: a reload in progress is not overtaken by the next.
  let queue = Promise.resolve();
  const check = (reason: string) => {
    queue = queue.then(async () => {
      let next: { keys: KeyMaterial; version: number };
      try {
        next = await load();
      } catch (error) {
        log.error('keys not reloaded: the key material is unusable', error, { reason });
        return;
      }
      version = next.version;
      if (JSON.stringify(next.keys) === JSON.stringify(keys)) return;
      // A new data key is fine as long as the one in use stays to open what it sealed
      // (`latchkey keys rotate --data` retires it); a replaced one would make every row unreadable.
      if (!dataKeys(next.keys).includes(keys.data)) {
        log.error('keys not reloaded: the data key in use is gone from the new key material, which would make every stored token unreadable', undefined, { reason });
        return;
      }
      if (next.keys.data !== keys.data) await checkKeyPairing(db, next.keys, source);
      await apply(next.keys, reason);
      keys = next.keys;
      log.info('keys reloaded', { reason, signing: keys.signing.map((k) => k.kid) });
    });
  };

  const poll = setInterval(() => {
    sharedKeysVersion(db).then(
      (seen) => seen !== undefined && seen !== version && check('shared keys rotated'),
      (error) => log.warn('could not read the shared keys version', { error: error instanceof Error ? error.message : String(error) }),
    );
  }, config.keysPollSeconds * 1000);
  poll.unref();
  if (!config.keysJson) fs.watchFile(config.keysFile, { interval: 1000 }, () => check('key file changed'));
  const onHangup = () => check('SIGHUP');
  process.on('SIGHUP', onHangup);

  return {
    current: () => keys,
    stop() {
      clearInterval(poll);
      if (!config.keysJson) fs.unwatchFile(config.keysFile);
      process.off('SIGHUP', onHangup);
    },
  };
}
