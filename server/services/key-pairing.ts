// Which data key the database was written with: its fingerprint in the meta table.
import type { Knex } from 'knex';
import { ConfigError } from '../config/env.ts';
import { dataKeyFingerprint, dataKeys, type KeyMaterial } from '../config/keys.ts';

/**
 * The data keys seal payloads and client secrets: a database written under one key is
 * unreadable under another. Refuse to start when none of our data keys is the one the database
 * was last written with, instead of silently failing every lookup (for instance after someone
 * deleted the key file and a new one was generated). After a data key rotation the database
 * records the new active key once a server or the CLI runs with it.
 */
export async function checkKeyPairing(db: Knex, keys: KeyMaterial, keysSource: string): Promise<void> {
  const fingerprint = dataKeyFingerprint(keys);
  const row = await db('meta').where({ key: 'data_key_fingerprint' }).first();
  if (!row) {
    await db('meta').insert({ key: 'data_key_fingerprint', value: fingerprint }).onConflict('key').ignore();
    return;
  }
  if (row.value === fingerprint) return;
  if (dataKeys(keys).some((key) => dataKeyFingerprint(keys, key) === row.value)) {
    await db('meta').where({ key: 'data_key_fingerprint', value: row.value }).update({ value: fingerprint });
    return;
  }
  throw new ConfigError(
    `the database was written with a different data key than the ones in ${keysSource} ` +
      `(fingerprint ${row.value}, have ${fingerprint}). Restore the original key material; ` +
      'starting with other keys would make every stored token and secret unreadable.',
  );
}
