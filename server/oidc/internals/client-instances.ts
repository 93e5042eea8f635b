// One Client instance per metadata object our client cache hands out.
//
// Relies on (oidc-provider 9.13.3, undocumented; pinned by test/oidc-internals/client-instances.test.ts):
// - `provider.Client.find(id)`, for a client that is not in the configuration's static list,
//   reads `Client.adapter.find(id)`, hashes JSON.stringify of the metadata (SHA-256) and looks
//   the hash up in an LRU of the Client instances it built: the same metadata gives the same
//   instance, whatever else changed meanwhile;
// - `provider.Client` is a class of that provider alone, so the patch touches no other provider.
//
// Why: clients come from our adapter on every token, introspection and revocation request, so
// the provider serialised and hashed a client's whole metadata each time (~7 µs of a W1 token,
// bench/README.md), where its static clients cost nothing. Our cache
// (services/client-cache.ts) returns one object per client until it reloads it (1 s) or a change
// through this process drops it, so the instance built from that object can be kept with it,
// in a WeakMap that lets it go with the object. The metadata a request sees, and how fresh it
// is, are those of the cache as before; only the provider's serialising and hashing is skipped.
// The public API has no hook between reading a client's metadata and building its instance.
import type Provider from 'oidc-provider';

type Find = (id: unknown) => Promise<unknown>;

export function reuseClientInstances(provider: Provider): void {
  const Client = provider.Client as unknown as { find: Find; adapter: { find(id: string): Promise<unknown> } };
  const find = Client.find.bind(Client);
  const built = new WeakMap<object, unknown>();
  Client.find = async function findReusingInstances(id) {
    if (typeof id !== 'string' || id === '') return find(id);
    const metadata = await Client.adapter.find(id);
    if (metadata === null || typeof metadata !== 'object') return find(id);
    const known = built.get(metadata);
    if (known) return known;
    const client = await find(id);
    // Kept only if the provider's own read saw this very object: the cache hands out one object
    // per client until it replaces it, never an older one again, so the same object after as
    // before means the instance was built from it.
    if (client && (await Client.adapter.find(id)) === metadata) built.set(metadata, client);
    return client;
  };
}
