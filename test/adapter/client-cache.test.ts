// The in-process client cache: bounded, one read per miss however many requests wait on it,
// and a change made through this process is never hidden by a read that was under way.
import { describe, expect, it } from 'vitest';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { cachedClients } from '../../server/services/client-cache.ts';

function countingStore(initial: Record<string, AdapterPayload>) {
  const rows = new Map(Object.entries(initial));
  let reads = 0;
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const adapter = {
    async find(id: string) {
      reads += 1;
      const snapshot = rows.get(id);
      if (gate) await gate;
      return snapshot;
    },
    async upsert(id: string, payload: AdapterPayload) {
      rows.set(id, payload);
    },
    async destroy(id: string) {
      rows.delete(id);
    },
  } as unknown as Adapter;
  return {
    adapter,
    reads: () => reads,
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    letGo() {
      gate = undefined;
      release?.();
    },
  };
}

describe('client cache', () => {
  it('answers concurrent misses with one read', async () => {
    const store = countingStore({ app: { client_id: 'app' } });
    const cache = cachedClients(store.adapter);
    const found = await Promise.all(Array.from({ length: 32 }, () => cache.find('app')));
    expect(found.every((f) => f?.client_id === 'app')).toBe(true);
    expect(store.reads()).toBe(1);
    await cache.find('app');
    expect(store.reads()).toBe(1);
  });

  it('reads again once the entry is older than its time to live', async () => {
    let clock = 0;
    const store = countingStore({ app: { client_id: 'app' } });
    const cache = cachedClients(store.adapter, { ttlMs: 1000, now: () => clock });
    await cache.find('app');
    clock = 999;
    await cache.find('app');
    expect(store.reads()).toBe(1);
    clock = 1000;
    await cache.find('app');
    expect(store.reads()).toBe(2);
  });

  it('does not keep a read that started before a delete made through it', async () => {
    const store = countingStore({ app: { client_id: 'app' } });
    const cache = cachedClients(store.adapter);
    store.hold();
    const stale = cache.find('app');
    await new Promise((resolve) => setImmediate(resolve)); // the read has begun, holding the old row
    expect(store.reads()).toBe(1);
    await cache.destroy('app');
    store.letGo();
    expect((await stale)?.client_id).toBe('app');
    await expect(cache.find('app')).resolves.toBeUndefined();
  });

  it('stays bounded, dropping the least recently used', async () => {
    const store = countingStore({ a: { client_id: 'a' }, b: { client_id: 'b' }, c: { client_id: 'c' } });
    const cache = cachedClients(store.adapter, { maxEntries: 2 });
    await cache.find('a');
    await cache.find('b');
    await cache.find('a');
    await cache.find('c');
    expect(store.reads()).toBe(3);
    await cache.find('a');
    expect(store.reads()).toBe(3);
    await cache.find('b');
    expect(store.reads()).toBe(4);
  });
});
