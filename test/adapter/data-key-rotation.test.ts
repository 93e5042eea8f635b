// Data key rotation at the storage layer: a sealed value names its key; values sealed by a
// retired key (and values from before key ids, `v1`) still open; resealing moves every payload
// and client secret to the active key in small batches without undoing a concurrent write; and
// the counts per key say when a retired key seals nothing (and may be dropped).
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/databases.ts';
import { createSealer, dataKeyId, sealedKeyId } from '../../adapters/at-rest.ts';
import { countSealedByKey, resealAll } from '../../adapters/reseal.ts';
import { PayloadAdapter } from '../../adapters/knex-adapter.ts';
import { ClientStore } from '../../adapters/client-store.ts';
import { adapterErrors } from '../../server/oidc/provider.ts';
import { generateSecret, pruneDataKeys, rotateDataKey, generateKeyMaterial } from '../../server/config/keys.ts';
import { openStore, payloadFor, randomId, type TestStore } from './context.ts';

/** A value sealed the way servers did before key ids (`v1.` + iv | tag | ciphertext). */
function sealV1(dataKey: string, plaintext: string, associatedData: string): string {
  const key = Buffer.from(crypto.hkdfSync('sha256', Buffer.from(dataKey, 'base64url'), Buffer.alloc(0), 'latchkey at-rest encryption v1', 32));
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

describe('the sealer across data keys', () => {
  const oldKey = generateSecret(32);
  const newKey = generateSecret(32);

  it('seals with the active key, naming it, and opens what retired keys sealed', () => {
    const before = createSealer(oldKey);
    const after = createSealer(newKey, [oldKey]);
    const old = before.seal('payload', 'AccessToken:a');
    const fresh = after.seal('payload', 'AccessToken:a');
    expect(sealedKeyId(old)).toBe(dataKeyId(oldKey));
    expect(sealedKeyId(fresh)).toBe(dataKeyId(newKey));
    expect(fresh.startsWith(after.activePrefix)).toBe(true);
    expect(after.open(old, 'AccessToken:a')).toBe('payload');
    expect(after.open(fresh, 'AccessToken:a')).toBe('payload');
    // Once the old key is gone, what it sealed is unreadable; the new key never opened it.
    expect(() => createSealer(newKey).open(old, 'AccessToken:a')).toThrow(/unknown data key/);
    // Binding to the row still holds across keys.
    expect(() => after.open(old, 'AccessToken:b')).toThrow();
  });

  it('opens values from before key ids with whichever key sealed them', () => {
    const legacy = sealV1(oldKey, 'payload', 'Grant:x');
    expect(sealedKeyId(legacy)).toBe('v1');
    expect(createSealer(newKey, [oldKey]).open(legacy, 'Grant:x')).toBe('payload');
    expect(createSealer(oldKey).open(legacy, 'Grant:x')).toBe('payload');
    expect(() => createSealer(newKey).open(legacy, 'Grant:x')).toThrow();
  });

  it('a rotation retires the active key; pruning drops a retired key only when it seals nothing', () => {
    const material = generateKeyMaterial();
    const rotated = rotateDataKey(material);
    expect(rotated.data).not.toBe(material.data);
    expect(rotated.dataRetired).toEqual([material.data]);
    const oldId = dataKeyId(material.data);
    expect(pruneDataKeys(rotated, new Map([[oldId, 3]])).dropped).toEqual([]);
    // Values from before key ids count for the oldest key.
    expect(pruneDataKeys(rotated, new Map([['v1', 1]])).dropped).toEqual([]);
    const pruned = pruneDataKeys(rotated, new Map([[dataKeyId(rotated.data), 10]]));
    expect(pruned.dropped).toEqual([oldId]);
    expect(pruned.material.dataRetired).toBeUndefined();
    expect(pruned.material.data).toBe(rotated.data);
  });
});

describe.each(STORES)('resealing after a data key rotation (%s)', (kind) => {
  let store: TestStore;
  const oldKey = generateSecret(32);
  const newKey = generateSecret(32);
  const ids: string[] = [];

  beforeAll(async () => {
    store = await openStore(kind);
    const before = createSealer(oldKey);
    const adapter = new PayloadAdapter(store.db, 'AccessToken', before, { errors: adapterErrors });
    for (let i = 0; i < 250; i += 1) {
      const id = randomId();
      ids.push(id);
      await adapter.upsert(id, { ...payloadFor('AccessToken', id), n: i }, 3600);
    }
    // A few rows written before key ids, and a client secret.
    for (let i = 0; i < 5; i += 1) {
      const id = randomId();
      ids.push(id);
      const key = before.digest(id);
      await store.db('oidc_payloads').insert({ model: 'AccessToken', id: key, payload: sealV1(oldKey, JSON.stringify({ ...payloadFor('AccessToken', id), legacy: true }), `AccessToken:${key}`), expires_at: Date.now() + 3_600_000 });
    }
    await new ClientStore(store.db, before).insert({ metadata: { client_id: 'rotating-app', client_secret: 'the secret', client_name: 'Rotating app' }, kind: 'app', source: 'cli', verified: true });
  });
  afterAll(async () => store?.close());

  it('moves every payload and client secret to the active key, and everything still opens', async () => {
    const counts = await countSealedByKey(store.db);
    expect(counts.get(dataKeyId(oldKey))).toBe(251);
    expect(counts.get('v1')).toBe(5);

    const after = createSealer(newKey, [oldKey]);
    // Small batches, so the pass crosses many of them.
    expect(await resealAll(store.db, after, { batchSize: 16, restFactor: 0 })).toBe(256);
    const resealed = await countSealedByKey(store.db);
    expect(resealed.get(dataKeyId(oldKey)) ?? 0).toBe(0);
    expect(resealed.get('v1') ?? 0).toBe(0);
    expect(resealed.get(dataKeyId(newKey))).toBe(256);

    // Readable with the new key alone.
    const only = createSealer(newKey);
    const adapter = new PayloadAdapter(store.db, 'AccessToken', only, { errors: adapterErrors });
    for (const id of ids) expect((await adapter.find(id))?.jti).toBe(id);
    expect((await new ClientStore(store.db, only).findMetadata('rotating-app'))?.client_secret).toBe('the secret');
    // A second pass has nothing to do.
    expect(await resealAll(store.db, after, { batchSize: 16, restFactor: 0 })).toBe(0);
  });

  it('never undoes a write made while it runs (compare-and-swap on the sealed value)', async () => {
    const newest = generateSecret(32);
    const sealer = createSealer(newest, [newKey, oldKey]);
    const adapter = new PayloadAdapter(store.db, 'AccessToken', createSealer(newKey, [oldKey]), { errors: adapterErrors });
    const target = ids[0] as string;
    // Resealing and a rewrite of one row race; whatever order they land in, the rewrite survives.
    await Promise.all([resealAll(store.db, sealer, { batchSize: 8, restFactor: 0 }), adapter.upsert(target, { ...payloadFor('AccessToken', target), rewritten: true }, 3600)]);
    const found = await new PayloadAdapter(store.db, 'AccessToken', sealer, { errors: adapterErrors }).find(target);
    expect(found?.rewritten).toBe(true);
  });
});
