// Pins internals/client-instances.ts: oidc-provider still reads a non-static client through
// `Client.adapter.find` and gives the same instance for the same metadata (it hashes the
// metadata on every find), and the patch, keyed on the metadata object the adapter returns,
// gives the instance built from that very object, a new one once the adapter hands out another
// object (changed metadata), and stays on its one provider. An upgrade that built clients
// another way would make these fail rather than serve stale or foreign clients.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Provider, { type AdapterPayload, type ClientMetadata } from 'oidc-provider';
import { reuseClientInstances } from '../../server/oidc/internals/client-instances.ts';
import { REDIRECT_URI, startBareProvider, type BareProvider } from './bare-provider.ts';

/** The metadata object each client id is read as, and how many reads there were. */
const stored = new Map<string, AdapterPayload>();
let reads = 0;

class Adapter {
  constructor(readonly model: string) {}
  async find(id: string) {
    if (this.model !== 'Client') return undefined;
    reads += 1;
    return stored.get(id);
  }
  async upsert() {}
  async findByUid() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
  async consume() {}
  async destroy() {}
  async revokeByGrantId() {}
}

const metadata = (name: string): AdapterPayload =>
  ({ client_id: 'app', client_secret: 'a-client-secret-long-enough-for-the-library-0123456789', client_name: name, redirect_uris: [REDIRECT_URI] }) as ClientMetadata as AdapterPayload;

type Found = { clientName?: string } | undefined;

describe('oidc-provider builds adapter clients once per metadata (Client.find)', () => {
  let unpatched: BareProvider;
  let patched: BareProvider;

  beforeAll(async () => {
    unpatched = await startBareProvider({ clients: [], adapter: Adapter as never });
    patched = await startBareProvider({ clients: [], adapter: Adapter as never }, undefined, reuseClientInstances);
  });
  afterAll(async () => {
    await unpatched?.close();
    await patched?.close();
  });

  it('unpatched: reads Client.adapter.find on every find; equal metadata, even a fresh object, gives the same instance', async () => {
    stored.set('app', metadata('First'));
    reads = 0;
    const first = (await unpatched.provider.Client.find('app')) as Found;
    stored.set('app', metadata('First'));
    const again = (await unpatched.provider.Client.find('app')) as Found;
    expect(reads).toBe(2);
    expect(again).toBe(first);
    expect(first?.clientName).toBe('First');
    stored.set('app', metadata('Renamed'));
    const renamed = (await unpatched.provider.Client.find('app')) as Found;
    expect(renamed).not.toBe(first);
    expect(renamed?.clientName).toBe('Renamed');
  });

  it('patched: the same metadata object gives the instance built from it; a new object, a new instance', async () => {
    const object = metadata('First');
    stored.set('app', object);
    const first = (await patched.provider.Client.find('app')) as Found;
    expect(first?.clientName).toBe('First');
    reads = 0;
    expect(await patched.provider.Client.find('app')).toBe(first);
    // One read of the adapter, as the provider itself makes: no hashing, no second read.
    expect(reads).toBe(1);
    stored.set('app', metadata('Renamed'));
    const renamed = (await patched.provider.Client.find('app')) as Found;
    expect(renamed).not.toBe(first);
    expect(renamed?.clientName).toBe('Renamed');
    expect(await patched.provider.Client.find('app')).toBe(renamed);
    stored.delete('app');
    expect(await patched.provider.Client.find('app')).toBeUndefined();
    expect(await patched.provider.Client.find('')).toBeUndefined();
  });

  it('Client is a class of each provider: the patch touches no other provider', () => {
    expect(unpatched.provider.Client).not.toBe(patched.provider.Client);
    expect(unpatched.provider.Client.find).not.toBe(patched.provider.Client.find);
    expect(new Provider('http://127.0.0.1:1', { clients: [] }).Client.find).not.toBe(patched.provider.Client.find);
  });
});
