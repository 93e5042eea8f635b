// The adapter's maintenance and query helpers: purgeExpired (bounded batches) and findPayloads.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSealer } from '../../adapters/at-rest.ts';
import { findPayloads, purgeExpired } from '../../adapters/payload-queries.ts';
import { generateKeyMaterial } from '../../server/config/keys.ts';
import { STORES } from '../helpers/databases.ts';
import { PAYLOAD_MODELS, T0, countRows, openStore, payloadFor, randomId, rawRow, type TestStore } from './context.ts';

describe.each(STORES)('maintenance helpers (%s)', (kind) => {
  let store: TestStore;

  beforeAll(async () => {
    store = await openStore(kind);
  });
  afterAll(async () => store?.close());
  beforeEach(async () => {
    store.clock.set(T0);
    await store.db.raw('DELETE FROM oidc_payloads');
  });

  /** Stores `n` rows across the models, each expiring after `expiresIn` seconds (or never). */
  async function seed(n: number, expiresIn: number | undefined): Promise<{ model: string; id: string }[]> {
    const rows: { model: string; id: string }[] = [];
    for (let i = 0; i < n; i += 1) {
      const model = PAYLOAD_MODELS[i % PAYLOAD_MODELS.length] as string;
      const id = randomId();
      await store.adapter(model).upsert(id, payloadFor(model, id), expiresIn);
      rows.push({ model, id });
    }
    return rows;
  }

  describe('purgeExpired', () => {
    it('deletes every expired row in batches of batchSize and keeps the rest', async () => {
      const expired = await seed(10, 60);
      const live = await seed(4, 3600);
      const forever = await seed(2, undefined);

      const deleted = await purgeExpired(store.db, { now: T0 + 120 * 1000, batchSize: 3 });

      expect(deleted).toBe(10);
      expect(await countRows(store)).toBe(6);
      for (const { model, id } of expired) expect(await rawRow(store, model, id)).toBeUndefined();
      for (const { model, id } of [...live, ...forever]) expect((await store.adapter(model).find(id))?.jti).toBe(id);
    });

    it('stops after maxBatches batches of at most batchSize rows; the next run continues', async () => {
      await seed(10, 60);
      await seed(3, 3600);
      const now = T0 + 120 * 1000;

      expect(await purgeExpired(store.db, { now, batchSize: 3, maxBatches: 2 })).toBe(6);
      expect(await countRows(store, 'expires_at <= ?', [now])).toBe(4);
      expect(await purgeExpired(store.db, { now, batchSize: 3, maxBatches: 1 })).toBe(3);
      expect(await countRows(store, 'expires_at <= ?', [now])).toBe(1);
      expect(await purgeExpired(store.db, { now, batchSize: 3 })).toBe(1);
      expect(await countRows(store)).toBe(3);
    });

    it('handles an exact multiple of batchSize and an empty purge', async () => {
      await seed(9, 60);
      const now = T0 + 120 * 1000;
      expect(await purgeExpired(store.db, { now, batchSize: 3 })).toBe(9);
      expect(await purgeExpired(store.db, { now, batchSize: 3 })).toBe(0);
      expect(await countRows(store)).toBe(0);
    });

    it('purges a row exactly at its expiry (when find already hides it), not a millisecond before', async () => {
      const [row] = await seed(1, 60);
      const { model, id } = row as { model: string; id: string };
      expect(await purgeExpired(store.db, { now: T0 + 60 * 1000 - 1, batchSize: 3 })).toBe(0);
      expect(await rawRow(store, model, id)).toBeDefined();
      expect(await purgeExpired(store.db, { now: T0 + 60 * 1000, batchSize: 3 })).toBe(1);
      expect(await rawRow(store, model, id)).toBeUndefined();
    });

    it('keeps consumed rows until they expire', async () => {
      const id = randomId();
      const codes = store.adapter('AuthorizationCode');
      await codes.upsert(id, payloadFor('AuthorizationCode', id), 60);
      await codes.consume(id);
      expect(await purgeExpired(store.db, { now: T0 + 30 * 1000, batchSize: 3 })).toBe(0);
      expect((await codes.find(id))?.consumed).toBeTruthy();
      expect(await purgeExpired(store.db, { now: T0 + 60 * 1000, batchSize: 3 })).toBe(1);
    });

    it('defaults to the wall clock', async () => {
      store.clock.set(Date.now() - 3600 * 1000);
      await seed(3, 60); // expired an hour ago, by the real clock
      await seed(2, 24 * 3600); // still valid
      expect(await purgeExpired(store.db)).toBe(3);
      expect(await countRows(store)).toBe(2);
    });
  });

  describe('findPayloads', () => {
    it('returns only the unexpired Grant payloads of the account/client pair', async () => {
      const grants = store.adapter('Grant');
      const account = `acct-${randomId().slice(0, 10)}`;
      const client = `cli-${randomId().slice(0, 10)}`;
      const grant = (accountId: string, clientId: string) => {
        const id = randomId();
        return { id, payload: payloadFor('Grant', id, { accountId, clientId }) };
      };

      const live = grant(account, client);
      const forever = grant(account, client);
      const expired = grant(account, client);
      const otherClient = grant(account, 'someone-else');
      const otherAccount = grant('acct-other', client);
      await grants.upsert(live.id, live.payload, 3600);
      await grants.upsert(forever.id, forever.payload);
      await grants.upsert(expired.id, expired.payload, 60);
      await grants.upsert(otherClient.id, otherClient.payload, 3600);
      await grants.upsert(otherAccount.id, otherAccount.payload, 3600);
      // same account and client, other models: not grants
      const tokenId = randomId();
      await store.adapter('AccessToken').upsert(tokenId, payloadFor('AccessToken', tokenId, { accountId: account, clientId: client }), 3600);
      const sessionId = randomId();
      await store.adapter('Session').upsert(sessionId, { ...payloadFor('Session', sessionId, { accountId: account }), clientId: client }, 3600);

      const byJti = (list: Record<string, unknown>[]) =>
        [...list].sort((a, b) => String(a.jti).localeCompare(String(b.jti)));
      const now = T0 + 120 * 1000;

      expect(byJti(await findPayloads(store.db, store.sealer, 'Grant', { accountId: account, clientId: client }, now))).toEqual(
        byJti([live.payload, forever.payload]),
      );
      // before the expiry, the expiring grant is there too
      expect(
        byJti(await findPayloads(store.db, store.sealer, 'Grant', { accountId: account, clientId: client }, T0 + 1000)),
      ).toEqual(byJti([live.payload, forever.payload, expired.payload]));
      // one side of the pair only
      expect(byJti(await findPayloads(store.db, store.sealer, 'Grant', { accountId: account }, now))).toEqual(
        byJti([live.payload, forever.payload, otherClient.payload]),
      );
      expect(byJti(await findPayloads(store.db, store.sealer, 'Grant', { clientId: client }, now))).toEqual(
        byJti([live.payload, forever.payload, otherAccount.payload]),
      );
      expect(await findPayloads(store.db, store.sealer, 'Grant', { accountId: 'nobody', clientId: client }, now)).toEqual([]);
    });

    it('skips rows whose sealed payload does not open for that row', async () => {
      const grants = store.adapter('Grant');
      const account = 'acct-tamper';
      const client = 'cli-tamper';
      const good = randomId();
      const victim = randomId();
      const goodPayload = payloadFor('Grant', good, { accountId: account, clientId: client });
      await grants.upsert(good, goodPayload, 3600);
      await grants.upsert(victim, payloadFor('Grant', victim, { accountId: account, clientId: client }), 3600);
      // copy the good grant's sealed payload over the victim's
      const sealed = (await rawRow(store, 'Grant', good))?.payload as string;
      await store.db.raw('UPDATE oidc_payloads SET payload = ? WHERE model = ? AND id = ?', [
        sealed,
        'Grant',
        store.sealer.digest(victim),
      ]);

      const found = await findPayloads(store.db, store.sealer, 'Grant', { accountId: account, clientId: client }, T0);
      expect(found).toEqual([goodPayload]);

      // and with another data key nothing opens
      const stranger = createSealer(generateKeyMaterial().data);
      expect(await findPayloads(store.db, stranger, 'Grant', { accountId: account, clientId: client }, T0)).toEqual([]);
    });
  });
});
