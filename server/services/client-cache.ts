// Clients are read on every token, introspection and revocation request. They change rarely,
// so their metadata is kept in memory: bounded (least recently used first out), and fresh for
// CACHE_TTL_MS. Changes made through this process (dynamic registration updates and deletes)
// drop the entry at once; changes made elsewhere (the CLI, another instance) are seen within
// CACHE_TTL_MS — docs/architecture.md states it. Only client records are cached, never tokens or grants:
// revocation must be seen at once.
import type { Adapter, AdapterPayload } from 'oidc-provider';

export const CACHE_TTL_MS = 1000;
const MAX_ENTRIES = 10_000;

interface Entry {
  at: number;
  value: AdapterPayload | undefined;
}

export function cachedClients(adapter: Adapter, { ttlMs = CACHE_TTL_MS, maxEntries = MAX_ENTRIES, now = () => performance.now() } = {}): Adapter {
  const entries = new Map<string, Entry>();
  // One database read per client however many requests miss at once (an expiry under load
  // would otherwise send every waiting request to the database).
  const loading = new Map<string, Promise<AdapterPayload | undefined>>();
  const drop = (id: string) => {
    entries.delete(id);
    loading.delete(id);
  };
  return {
    ...adapter,
    async find(id) {
      const hit = entries.get(id);
      if (hit && now() - hit.at < ttlMs) {
        // Map order is insertion order: re-inserting keeps the most recently used at the end.
        entries.delete(id);
        entries.set(id, hit);
        return hit.value;
      }
      const pending = loading.get(id);
      if (pending) return pending;
      const load: Promise<AdapterPayload | undefined> = Promise.resolve().then(async () => {
        try {
          const value = (await adapter.find(id)) ?? undefined;
          // A change dropped the entry while this read was under way: the read may predate it.
          if (loading.get(id) === load) {
            entries.delete(id);
            entries.set(id, { at: now(), value });
            if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
          }
          return value;
        } finally {
          if (loading.get(id) === load) loading.delete(id);
        }
      });
      loading.set(id, load);
      return load;
    },
    async upsert(id, payload, expiresIn) {
      drop(id);
      await adapter.upsert(id, payload, expiresIn);
      drop(id);
    },
    async destroy(id) {
      drop(id);
      await adapter.destroy(id);
      drop(id);
    },
  };
}
