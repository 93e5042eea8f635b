// The Client model: ClientStore.adapter() as oidc-provider uses it (RFC 7591/7592), and the
// operator-facing insert/get/list/remove/setVerified, on SQLite and PostgreSQL.
import fs from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { ClientStore, type NewClient } from '../../adapters/client-store.ts';
import { createAdapterFactory, PayloadAdapter } from '../../adapters/knex-adapter.ts';
import { rowsOf } from '../../adapters/rows.ts';
import { adapterErrors } from '../../server/oidc/provider.ts';
import { STORES } from '../helpers/databases.ts';
import { T0, openStore, payloadFor, randomId, rawRow, type TestStore } from './context.ts';

interface ClientRow {
  client_id: string;
  metadata: string;
  secret_sealed: string | null;
  kind: string;
  source: string;
  verified: boolean | number;
  created_at: number | string;
  updated_at: number | string;
}

/** What oidc-provider hands to Client.adapter.upsert after a dynamic registration. */
function registration(clientId: string, secret: string | undefined, extra: Record<string, unknown> = {}): AdapterPayload {
  return {
    client_id: clientId,
    client_id_issued_at: Math.floor(T0 / 1000),
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    client_name: `Registered app ${clientId}`,
    redirect_uris: ['https://app.example/cb'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: secret ? 'client_secret_basic' : 'none',
    application_type: 'web',
    ...extra,
  } as AdapterPayload;
}

describe.each(STORES)('ClientStore (%s)', (kind) => {
  let store: TestStore;
  let clients: ClientStore;
  let adapter: Adapter;

  beforeAll(async () => {
    store = await openStore(kind);
    clients = new ClientStore(store.db, store.sealer, store.clock.now);
    adapter = clients.adapter();
  });
  afterAll(async () => store?.close());
  beforeEach(() => store.clock.set(T0));

  async function clientRow(clientId: string): Promise<ClientRow | undefined> {
    return rowsOf<ClientRow>(await store.db.raw('SELECT * FROM clients WHERE client_id = ?', [clientId]))[0];
  }

  function newClient(overrides: Partial<NewClient> & { secret?: string } = {}): NewClient {
    const clientId = overrides.metadata?.client_id ?? `cli-${randomId().slice(0, 16)}`;
    const { secret, ...rest } = overrides;
    return {
      kind: 'app',
      source: 'cli',
      verified: false,
      ...rest,
      metadata: {
        client_id: clientId,
        client_name: 'Operator app',
        redirect_uris: ['https://op.example/cb'],
        ...(secret ? { client_secret: secret } : {}),
        ...(overrides.metadata ?? {}),
      },
    };
  }

  describe('adapter() as oidc-provider uses it', () => {
    it('upsert (dynamic registration) seals the secret; find returns the metadata with the secret opened', async () => {
      const clientId = randomId();
      const secret = randomId();
      const metadata = registration(clientId, secret);
      await adapter.upsert(clientId, metadata, undefined);

      const row = await clientRow(clientId);
      expect(row).toBeDefined();
      expect(row?.secret_sealed).toMatch(/^v2\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+$/);
      expect(JSON.stringify(row).includes(secret)).toBe(false);
      const stored = JSON.parse(row?.metadata as string) as Record<string, unknown>;
      expect(stored).not.toHaveProperty('client_secret');
      expect(stored.client_name).toBe(metadata.client_name);
      expect(row?.source).toBe('dynamic');
      expect(Boolean(row?.verified)).toBe(false);
      expect(row?.kind).toBe('app');

      expect(await adapter.find(clientId)).toEqual(metadata);
    });

    it('upsert of a public client (no secret) stores no secret', async () => {
      const clientId = randomId();
      const metadata = registration(clientId, undefined);
      await adapter.upsert(clientId, metadata);
      expect((await clientRow(clientId))?.secret_sealed).toBeNull();
      expect(await adapter.find(clientId)).toEqual(metadata);
      expect((await clients.get(clientId))?.hasSecret).toBe(false);
    });

    it('stores under the id it is given, whatever client_id the metadata claims', async () => {
      const clientId = randomId();
      await adapter.upsert(clientId, registration('someone-else', randomId()));
      expect(await clientRow('someone-else')).toBeUndefined();
      expect((await adapter.find(clientId))?.client_id).toBe(clientId);
      expect((await adapter.find(clientId))?.client_secret).toBeTruthy();
    });

    it('an update (RFC 7592) replaces metadata and secret but keeps kind, source, verified and createdAt', async () => {
      const created = newClient({ kind: 'resource_server', source: 'cli', verified: true, secret: randomId() });
      const clientId = created.metadata.client_id;
      await clients.insert(created);
      const createdRow = await clientRow(clientId);

      store.clock.set(T0 + 60 * 1000);
      const newSecret = randomId();
      const updated = registration(clientId, newSecret, { client_name: 'Renamed' });
      await adapter.upsert(clientId, updated);

      const record = await clients.get(clientId);
      expect(record?.source).toBe('cli');
      expect(record?.verified).toBe(true);
      expect(record?.kind).toBe('resource_server');
      expect(record?.createdAt).toBe(T0);
      expect(record?.metadata.client_name).toBe('Renamed');
      const row = await clientRow(clientId);
      expect(Number(row?.updated_at)).toBe(T0 + 60 * 1000);
      expect(row?.secret_sealed).not.toBe(createdRow?.secret_sealed);
      expect(JSON.stringify(row).includes(newSecret)).toBe(false);
      expect(await adapter.find(clientId)).toEqual(updated);
    });

    it('an update of a dynamic client an operator verified keeps it verified', async () => {
      const clientId = randomId();
      await adapter.upsert(clientId, registration(clientId, randomId()));
      expect(await clients.setVerified(clientId, true)).toBe(true);
      await adapter.upsert(clientId, registration(clientId, randomId(), { client_name: 'Updated' }));
      const record = await clients.get(clientId);
      expect(record?.verified).toBe(true);
      expect(record?.source).toBe('dynamic');
      expect(record?.metadata.client_name).toBe('Updated');
    });

    it('an update that drops the secret removes the sealed secret', async () => {
      const clientId = randomId();
      await adapter.upsert(clientId, registration(clientId, randomId()));
      const publicMetadata = registration(clientId, undefined);
      await adapter.upsert(clientId, publicMetadata);
      expect((await clientRow(clientId))?.secret_sealed).toBeNull();
      expect(await adapter.find(clientId)).toEqual(publicMetadata);
    });

    it('find of an unknown id, an empty string or a non-string returns undefined', async () => {
      const clientId = randomId();
      await adapter.upsert(clientId, registration(clientId, randomId()));
      expect(await adapter.find(randomId())).toBeUndefined();
      expect(await adapter.find('')).toBeUndefined();
      for (const value of [undefined, null, 42, {}, [clientId]]) {
        expect(await adapter.find(value as string)).toBeUndefined();
      }
      expect(await adapter.find(clientId)).toBeDefined();
    });

    it('a secret sealed for another client does not open', async () => {
      const a = randomId();
      const b = randomId();
      await adapter.upsert(a, registration(a, randomId()));
      await adapter.upsert(b, registration(b, randomId()));
      const sealedA = (await clientRow(a))?.secret_sealed as string;
      await store.db.raw('UPDATE clients SET secret_sealed = ? WHERE client_id = ?', [sealedA, b]);
      expect(await adapter.find(b)).toBeUndefined();
      expect((await adapter.find(a))?.client_secret).toBeTruthy();
    });

    it("destroy removes the client and the rows issued to it", async () => {
      const clientId = randomId();
      await adapter.upsert(clientId, registration(clientId, randomId()));
      const ratId = randomId();
      const rats = store.adapter('RegistrationAccessToken');
      await rats.upsert(ratId, payloadFor('RegistrationAccessToken', ratId, { clientId }));

      await adapter.destroy(clientId);
      expect(await adapter.find(clientId)).toBeUndefined();
      expect(await clientRow(clientId)).toBeUndefined();
      expect(await rats.find(ratId)).toBeUndefined();
      await expect(adapter.destroy(randomId())).resolves.toBeUndefined();
    });

    it('the methods the Client model does not use resolve to undefined and change nothing', async () => {
      const clientId = randomId();
      const metadata = registration(clientId, randomId());
      await adapter.upsert(clientId, metadata);
      await expect(adapter.findByUid(clientId)).resolves.toBeUndefined();
      await expect(adapter.findByUserCode(clientId)).resolves.toBeUndefined();
      await expect(adapter.consume(clientId)).resolves.toBeUndefined();
      await expect(adapter.revokeByGrantId(clientId)).resolves.toBeUndefined();
      expect(await adapter.find(clientId)).toEqual(metadata);
    });

    if (kind === 'sqlite') {
      it('the raw client secret is not in the SQLite file or its WAL', async () => {
        const clientId = randomId();
        const secret = randomId();
        await adapter.upsert(clientId, registration(clientId, secret));
        const file = store.file as string;
        const before = [file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f));
        await store.db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
        const after = [file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f));
        const bytes = Buffer.concat([...before, ...after]);
        expect(bytes.includes(Buffer.from(clientId)), 'the client itself is on disk').toBe(true);
        expect(bytes.includes(Buffer.from(secret))).toBe(false);
      });
    }
  });

  describe('createAdapterFactory', () => {
    it("answers ClientStore's adapter for Client and a PayloadAdapter on the injected clock for the rest", async () => {
      const factory = createAdapterFactory(store.db, store.sealer, clients, { errors: adapterErrors, now: store.clock.now });
      const clientAdapter = factory('Client');
      expect(clientAdapter).not.toBeInstanceOf(PayloadAdapter);
      const clientId = randomId();
      const secret = randomId();
      await clientAdapter.upsert(clientId, registration(clientId, secret));
      expect((await clientRow(clientId))?.source).toBe('dynamic');
      expect((await clientAdapter.find(clientId))?.client_secret).toBe(secret);
      expect(await rawRow(store, 'Client', clientId)).toBeUndefined(); // not in oidc_payloads

      const tokens = factory('AccessToken');
      expect(tokens).toBeInstanceOf(PayloadAdapter);
      const id = randomId();
      await tokens.upsert(id, payloadFor('AccessToken', id), 60);
      expect(Number((await rawRow(store, 'AccessToken', id))?.expires_at)).toBe(T0 + 60 * 1000);
      store.clock.set(T0 + 60 * 1000);
      expect(await tokens.find(id)).toBeUndefined();
    });
  });

  describe('operator methods', () => {
    it('insert seals the secret; get returns the record without it', async () => {
      const secret = randomId();
      const client = newClient({ kind: 'resource_server', source: 'seed', verified: true, secret });
      const clientId = client.metadata.client_id;
      await clients.insert(client);

      const record = await clients.get(clientId);
      expect(record).toEqual({
        clientId,
        metadata: { client_id: clientId, client_name: 'Operator app', redirect_uris: ['https://op.example/cb'] },
        hasSecret: true,
        kind: 'resource_server',
        source: 'seed',
        verified: true,
        createdAt: T0,
      });
      expect(JSON.stringify(await clientRow(clientId)).includes(secret)).toBe(false);
      expect((await clients.findMetadata(clientId))?.client_secret).toBe(secret);
      expect(await clients.get(randomId())).toBeUndefined();
    });

    it('insert refuses a duplicate client_id and leaves the first one intact', async () => {
      const first = newClient({ secret: randomId() });
      await clients.insert(first);
      const clientId = first.metadata.client_id;
      await expect(clients.insert(newClient({ metadata: { client_id: clientId, client_name: 'Impostor' } }))).rejects.toThrow();
      expect((await clients.get(clientId))?.metadata.client_name).toBe('Operator app');
      expect((await clients.findMetadata(clientId))?.client_secret).toBe(first.metadata.client_secret);
    });

    it('insert inside a transaction that rolls back stores nothing', async () => {
      const client = newClient();
      await expect(
        store.db.transaction(async (trx) => {
          await clients.insert(client, trx);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await clients.get(client.metadata.client_id)).toBeUndefined();
    });

    it('list returns every client ordered by creation time, then client id', async () => {
      const before = new Set((await clients.list()).map((c) => c.clientId));
      const ids = ['zz-list-late', 'bb-list-tie', 'aa-list-tie'];
      store.clock.set(T0 + 3 * 60 * 1000);
      await clients.insert(newClient({ metadata: { client_id: ids[0] as string } }));
      store.clock.set(T0 + 2 * 60 * 1000);
      await clients.insert(newClient({ metadata: { client_id: ids[1] as string } }));
      await clients.insert(newClient({ metadata: { client_id: ids[2] as string } }));

      const listed = (await clients.list()).filter((c) => !before.has(c.clientId));
      expect(listed.map((c) => c.clientId)).toEqual(['aa-list-tie', 'bb-list-tie', 'zz-list-late']);
      expect(listed.map((c) => c.createdAt)).toEqual([T0 + 120_000, T0 + 120_000, T0 + 180_000]);
      const all = await clients.list();
      const times = all.map((c) => c.createdAt);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    });

    it('setVerified flips the flag and reports whether the client exists', async () => {
      const client = newClient();
      const clientId = client.metadata.client_id;
      await clients.insert(client);
      expect(await clients.setVerified(clientId, true)).toBe(true);
      expect((await clients.get(clientId))?.verified).toBe(true);
      expect(await clients.setVerified(clientId, false)).toBe(true);
      expect((await clients.get(clientId))?.verified).toBe(false);
      expect(await clients.setVerified(randomId(), true)).toBe(false);
    });

    it("remove deletes the client and that client's rows in oidc_payloads, and nobody else's", async () => {
      const client = newClient({ secret: randomId() });
      const clientId = client.metadata.client_id;
      const other = newClient();
      const otherId = other.metadata.client_id;
      await clients.insert(client);
      await clients.insert(other);

      const mine: { model: string; id: string }[] = [];
      const theirs: { model: string; id: string }[] = [];
      for (const model of ['Grant', 'AccessToken', 'RefreshToken', 'AuthorizationCode', 'RegistrationAccessToken', 'ClientCredentials']) {
        const a = randomId();
        const b = randomId();
        await store.adapter(model).upsert(a, payloadFor(model, a, { clientId }), 3600);
        await store.adapter(model).upsert(b, payloadFor(model, b, { clientId: otherId }), 3600);
        mine.push({ model, id: a });
        theirs.push({ model, id: b });
      }

      expect(await clients.remove(clientId)).toBe(true);
      expect(await clients.get(clientId)).toBeUndefined();
      expect(await clients.findMetadata(clientId)).toBeUndefined();
      for (const { model, id } of mine) expect(await rawRow(store, model, id), `${model} of the removed client`).toBeUndefined();
      for (const { model, id } of theirs) expect((await store.adapter(model).find(id))?.jti).toBe(id);
      expect(await clients.get(otherId)).toBeDefined();

      expect(await clients.remove(clientId)).toBe(false);
    });
  });
});
