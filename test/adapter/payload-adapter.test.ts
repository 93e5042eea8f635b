// oidc-provider's Adapter contract, method by method and model by model, on SQLite and PostgreSQL.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errors } from 'oidc-provider';
import { STORES } from '../helpers/databases.ts';
import { adapterErrors } from '../../server/oidc/provider.ts';
import type { Knex } from 'knex';
import { PayloadAdapter } from '../../adapters/knex-adapter.ts';
import { parseDatabaseUrl } from '../../server/config/env.ts';
import { createDatabase } from '../../server/db/knex.ts';
import {
  CODE_MODELS,
  GRANT_BOUND_MODELS,
  PAYLOAD_MODELS,
  T0,
  UPSERTABLE_MODELS,
  countRows,
  expectProviderError,
  openStore,
  payloadFor,
  randomId,
  rawRow,
  type TestStore,
} from './context.ts';

const NOT_STRINGS: unknown[] = [undefined, null, 42, {}, true];

/** Another model than `model`, for cross-model checks. */
function otherModel(model: string): string {
  return model === 'AccessToken' ? 'RefreshToken' : 'AccessToken';
}

describe.each(STORES)('PayloadAdapter contract (%s)', (kind) => {
  let store: TestStore;

  beforeAll(async () => {
    store = await openStore(kind);
  });
  afterAll(async () => store?.close());
  beforeEach(() => store.clock.set(T0));

  describe.each(PAYLOAD_MODELS)('%s', (model) => {
    it('upsert then find returns the payload whole, jti included', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      const payload = payloadFor(model, id);
      await adapter.upsert(id, payload, 3600);

      const found = await adapter.find(id);
      expect(found).toEqual(payload);
      expect(found?.jti).toBe(id);
      expect(found?.consumed).toBeUndefined();

      const row = await rawRow(store, model, id);
      expect(Number(row?.expires_at)).toBe(T0 + 3600 * 1000);
      expect(row?.consumed_at).toBeNull();
    });

    it('upsert without expiresIn stores no expiry', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      const payload = payloadFor(model, id);
      await adapter.upsert(id, payload);

      expect((await rawRow(store, model, id))?.expires_at).toBeNull();
      store.clock.advance(50 * 365 * 24 * 3600 * 1000);
      expect(await adapter.find(id)).toEqual(payload);
    });

    it('find of an unknown id, an empty string or a non-string returns undefined', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      await adapter.upsert(id, payloadFor(model, id), 3600);

      expect(await adapter.find(randomId())).toBeUndefined();
      expect(await adapter.find('')).toBeUndefined();
      for (const value of [...NOT_STRINGS, [id]]) {
        expect(await adapter.find(value as string)).toBeUndefined();
      }
      // the stored row is still there: the misses above were misses, not a broken store
      expect(await adapter.find(id)).toBeDefined();
    });

    it('find never returns an expired row', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      await adapter.upsert(id, payloadFor(model, id), 60);

      store.clock.set(T0 + 60 * 1000 - 1);
      expect(await adapter.find(id)).toBeDefined();
      store.clock.set(T0 + 60 * 1000);
      expect(await adapter.find(id)).toBeUndefined();
      store.clock.set(T0 + 3600 * 1000);
      expect(await adapter.find(id)).toBeUndefined();
      // not purged, only invisible
      expect(await rawRow(store, model, id)).toBeDefined();
    });

    it('expiry is computed from the adapter clock at upsert time', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      store.clock.set(T0 + 1000 * 1000);
      await adapter.upsert(id, payloadFor(model, id), 10);
      store.clock.set(T0 + 1009 * 1000);
      expect(await adapter.find(id)).toBeDefined();
      store.clock.set(T0 + 1010 * 1000);
      expect(await adapter.find(id)).toBeUndefined();
    });

    it('consume marks the row consumed; a second consume throws adapterErrors.alreadyConsumed', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      const payload = payloadFor(model, id);
      await adapter.upsert(id, payload, 3600);

      await adapter.consume(id);
      const found = await adapter.find(id);
      expect(found?.consumed).toBeTruthy();
      const { consumed: _consumed, ...rest } = found ?? {};
      expect(rest).toEqual(payload);
      expect(Number((await rawRow(store, model, id))?.consumed_at)).toBe(T0);

      const expected = adapterErrors.alreadyConsumed(model) as InstanceType<typeof errors.OIDCProviderError>;
      const error = await expectProviderError(adapter.consume(id), expected.error, expected.statusCode);
      expect(error.constructor).toBe(expected.constructor);
      expect(error.message).toBe(expected.message);
      if ((CODE_MODELS as readonly string[]).includes(model)) {
        expect(error).toBeInstanceOf(errors.InvalidGrant);
        expect(error.error).toBe('invalid_grant');
        expect(error.statusCode).toBe(400);
      }
      // still consumed, and the first consume time is kept
      expect((await adapter.find(id))?.consumed).toBeTruthy();
      expect(Number((await rawRow(store, model, id))?.consumed_at)).toBe(T0);
    });

    it('destroy removes the row; destroying an unknown id is harmless', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      const keep = randomId();
      await adapter.upsert(id, payloadFor(model, id), 3600);
      await adapter.upsert(keep, payloadFor(model, keep), 3600);

      await adapter.destroy(id);
      expect(await adapter.find(id)).toBeUndefined();
      expect(await rawRow(store, model, id)).toBeUndefined();
      expect(await adapter.find(keep)).toBeDefined();
      await expect(adapter.destroy(randomId())).resolves.toBeUndefined();

      if (model === 'Grant') {
        // Destroying a grant revokes it: it cannot be written again (no resurrection).
        await expect(adapter.upsert(id, payloadFor(model, id), 3600)).rejects.toMatchObject({ error: 'invalid_grant' });
        expect(await adapter.find(id)).toBeUndefined();
      } else {
        // the id is free again, even for the insert-only model
        await adapter.upsert(id, payloadFor(model, id), 3600);
        expect(await adapter.find(id)).toBeDefined();
      }
    });

    if (GRANT_BOUND_MODELS.includes(model)) {
      it("revokeByGrantId removes that grant's rows and its tombstone hides the whole family", async () => {
        const adapter = store.adapter(model);
        const other = store.adapter(otherModel(model));
        const grant = randomId();
        const otherGrant = randomId();
        const [a1, a2, b, o] = [randomId(), randomId(), randomId(), randomId()];
        await adapter.upsert(a1, payloadFor(model, a1, { grantId: grant }), 3600);
        await adapter.upsert(a2, payloadFor(model, a2, { grantId: grant }));
        await adapter.upsert(b, payloadFor(model, b, { grantId: otherGrant }), 3600);
        await other.upsert(o, payloadFor(otherModel(model), o, { grantId: grant }), 3600);

        await adapter.revokeByGrantId(grant);

        expect(await adapter.find(a1)).toBeUndefined();
        expect(await adapter.find(a2)).toBeUndefined();
        expect(await countRows(store, 'model = ? AND grant_id = ?', [model, store.sealer.digest(grant)])).toBe(0);
        expect((await adapter.find(b))?.grantId).toBe(otherGrant);
        // Revocation is a fact about the grant: its rows in other models are dead too...
        expect(await other.find(o)).toBeUndefined();
        // ...and nothing new can be written under it (a successor racing the revocation).
        const late = randomId();
        await expect(adapter.upsert(late, payloadFor(model, late, { grantId: grant }), 3600)).rejects.toMatchObject({ error: 'invalid_grant' });
        expect(await adapter.find(late)).toBeUndefined();
      });
    } else {
      it('revokeByGrantId leaves rows that belong to no grant alone', async () => {
        const adapter = store.adapter(model);
        const id = randomId();
        const payload = payloadFor(model, id);
        await adapter.upsert(id, payload, 3600);
        await expect(adapter.revokeByGrantId(randomId())).resolves.toBeUndefined();
        expect(await adapter.find(id)).toEqual(payload);
      });
    }

    it('the same id under another model is an independent row', async () => {
      const adapter = store.adapter(model);
      const otherName = otherModel(model);
      const other = store.adapter(otherName);
      const id = randomId();
      const mine = payloadFor(model, id);
      const theirs = payloadFor(otherName, id);
      await adapter.upsert(id, mine, 3600);
      await other.upsert(id, theirs, 3600);

      expect(await adapter.find(id)).toEqual(mine);
      expect(await other.find(id)).toEqual(theirs);

      await other.consume(id);
      expect((await adapter.find(id))?.consumed).toBeUndefined();

      await adapter.destroy(id);
      expect(await adapter.find(id)).toBeUndefined();
      expect((await other.find(id))?.jti).toBe(id);
    });

    it("a sealed payload copied into another model's or another id's row is not returned", async () => {
      const adapter = store.adapter(model);
      const otherName = otherModel(model);
      const other = store.adapter(otherName);
      const source = randomId();
      const victimSameId = source; // same raw id, other model
      const victimOtherId = randomId(); // other model, other id
      const victimSameModel = randomId(); // same model, other id
      await adapter.upsert(source, payloadFor(model, source), 3600);
      await other.upsert(victimSameId, payloadFor(otherName, victimSameId), 3600);
      await other.upsert(victimOtherId, payloadFor(otherName, victimOtherId), 3600);
      await adapter.upsert(victimSameModel, payloadFor(model, victimSameModel), 3600);

      const sealed = (await rawRow(store, model, source))?.payload;
      expect(sealed).toBeTruthy();
      const copy = async (target: string, id: string) => {
        await store.db.raw('UPDATE oidc_payloads SET payload = ? WHERE model = ? AND id = ?', [
          sealed as string,
          target,
          store.sealer.digest(id),
        ]);
        expect((await rawRow(store, target, id))?.payload).toBe(sealed);
      };
      await copy(otherName, victimSameId);
      await copy(otherName, victimOtherId);
      await copy(model, victimSameModel);

      expect(await other.find(victimSameId)).toBeUndefined();
      expect(await other.find(victimOtherId)).toBeUndefined();
      expect(await adapter.find(victimSameModel)).toBeUndefined();
      // the original is untouched
      expect((await adapter.find(source))?.jti).toBe(source);
    });

    it('a row whose sealed payload was tampered with is not returned', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      await adapter.upsert(id, payloadFor(model, id), 3600);
      const sealed = (await rawRow(store, model, id))?.payload as string;
      // Flip a character well inside the ciphertext: the last base64url character may carry only
      // padding bits, and changing it would not change a single byte.
      const at = Math.floor(sealed.length / 2);
      const flipped = `${sealed.slice(0, at)}${sealed[at] === 'A' ? 'B' : 'A'}${sealed.slice(at + 1)}`;
      await store.db.raw('UPDATE oidc_payloads SET payload = ? WHERE model = ? AND id = ?', [
        flipped,
        model,
        store.sealer.digest(id),
      ]);
      expect(await adapter.find(id)).toBeUndefined();
    });
  });

  describe.each(UPSERTABLE_MODELS)('%s upsert', (model) => {
    it('overwrites the payload, the expiry and the lookup columns', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      const first = payloadFor(model, id, { grantId: randomId(), accountId: 'first-account' });
      const second = payloadFor(model, id, { grantId: randomId(), accountId: 'second-account' });
      await adapter.upsert(id, first, 60);
      await adapter.upsert(id, second, 7200);

      expect(await adapter.find(id)).toEqual(second);
      expect(await countRows(store, 'model = ? AND id = ?', [model, store.sealer.digest(id)])).toBe(1);
      store.clock.set(T0 + 3600 * 1000);
      expect(await adapter.find(id)).toEqual(second); // the first expiry no longer applies

      if (typeof first.grantId === 'string') {
        // the row now belongs to the second grant only
        await adapter.revokeByGrantId(first.grantId);
        expect(await adapter.find(id)).toEqual(second);
        await adapter.revokeByGrantId(second.grantId as string);
        expect(await adapter.find(id)).toBeUndefined();
      }
    });

    it('an overwrite without expiresIn removes the expiry', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      await adapter.upsert(id, payloadFor(model, id), 60);
      const payload = payloadFor(model, id);
      await adapter.upsert(id, payload);
      store.clock.set(T0 + 3600 * 1000);
      expect(await adapter.find(id)).toEqual(payload);
    });

    it('re-saving a consumed row keeps it consumed', async () => {
      const adapter = store.adapter(model);
      const id = randomId();
      await adapter.upsert(id, payloadFor(model, id), 3600);
      await adapter.consume(id);
      const resaved = payloadFor(model, id);
      await adapter.upsert(id, resaved, 3600);

      const found = await adapter.find(id);
      expect(found?.consumed).toBeTruthy();
      expect(found?.jti).toBe(id);
      await expect(adapter.consume(id)).rejects.toBeInstanceOf(errors.OIDCProviderError);
    });
  });

  describe('Session.findByUid', () => {
    it('finds the session by uid, and nothing by an unknown, empty or non-string uid', async () => {
      const sessions = store.adapter('Session');
      const id = randomId();
      const uid = randomId();
      const payload = payloadFor('Session', id, { uid });
      await sessions.upsert(id, payload, 3600);

      expect(await sessions.findByUid(uid)).toEqual(payload);
      expect(await sessions.findByUid(randomId())).toBeUndefined();
      expect(await sessions.findByUid(id)).toBeUndefined(); // the id is not a uid
      expect(await sessions.findByUid('')).toBeUndefined();
      for (const value of NOT_STRINGS) expect(await sessions.findByUid(value as string)).toBeUndefined();
    });

    it('never returns an expired session', async () => {
      const sessions = store.adapter('Session');
      const id = randomId();
      const uid = randomId();
      await sessions.upsert(id, payloadFor('Session', id, { uid }), 600);
      store.clock.set(T0 + 600 * 1000 - 1);
      expect((await sessions.findByUid(uid))?.jti).toBe(id);
      store.clock.set(T0 + 600 * 1000);
      expect(await sessions.findByUid(uid)).toBeUndefined();
    });

    it('follows overwrites and destroy, and is scoped to the Session model', async () => {
      const sessions = store.adapter('Session');
      const id = randomId();
      const oldUid = randomId();
      const newUid = randomId();
      await sessions.upsert(id, payloadFor('Session', id, { uid: oldUid }), 3600);
      const rotated = payloadFor('Session', id, { uid: newUid });
      await sessions.upsert(id, rotated, 3600);
      expect(await sessions.findByUid(oldUid)).toBeUndefined();
      expect(await sessions.findByUid(newUid)).toEqual(rotated);

      // a uid stored under another model is not a session
      const interactions = store.adapter('Interaction');
      const interactionId = randomId();
      const strayUid = randomId();
      await interactions.upsert(interactionId, { ...payloadFor('Interaction', interactionId), uid: strayUid }, 3600);
      expect(await sessions.findByUid(strayUid)).toBeUndefined();

      await sessions.destroy(id);
      expect(await sessions.findByUid(newUid)).toBeUndefined();
    });
  });

  describe('DeviceCode.findByUserCode', () => {
    it('finds the device code by user code, and nothing by an unknown, empty or non-string code', async () => {
      const codes = store.adapter('DeviceCode');
      const id = randomId();
      const userCode = 'WDJB-MJHT';
      const payload = payloadFor('DeviceCode', id, { userCode });
      await codes.upsert(id, payload, 600);

      expect(await codes.findByUserCode(userCode)).toEqual(payload);
      expect(await codes.findByUserCode('BDWP-HQPK')).toBeUndefined();
      expect(await codes.findByUserCode(id)).toBeUndefined();
      expect(await codes.findByUserCode('')).toBeUndefined();
      for (const value of NOT_STRINGS) expect(await codes.findByUserCode(value as string)).toBeUndefined();

      await codes.consume(id);
      expect((await codes.findByUserCode(userCode))?.consumed).toBeTruthy();
      await codes.destroy(id);
      expect(await codes.findByUserCode(userCode)).toBeUndefined();
    });

    it('never returns an expired device code', async () => {
      const codes = store.adapter('DeviceCode');
      const id = randomId();
      const userCode = 'KPLR-XQZT';
      await codes.upsert(id, payloadFor('DeviceCode', id, { userCode }), 600);
      store.clock.set(T0 + 600 * 1000 - 1);
      expect((await codes.findByUserCode(userCode))?.jti).toBe(id);
      store.clock.set(T0 + 600 * 1000);
      expect(await codes.findByUserCode(userCode)).toBeUndefined();
    });

    it('is scoped to the DeviceCode model', async () => {
      const codes = store.adapter('DeviceCode');
      const tokens = store.adapter('AccessToken');
      const id = randomId();
      const userCode = 'ZZZZ-YYYY';
      await tokens.upsert(id, { ...payloadFor('AccessToken', id), userCode }, 600);
      expect(await codes.findByUserCode(userCode)).toBeUndefined();
    });
  });

  describe('consume under concurrency', () => {
    it.each(CODE_MODELS)('ten concurrent consumes of one %s: exactly one wins, nine get invalid_grant', async (model) => {
      const id = randomId();
      await store.adapter(model).upsert(id, payloadFor(model, id), 600);

      // one adapter per request, as oidc-provider's model instances would use
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.adapter(model).consume(id)));

      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(9);
      for (const { reason } of lost) {
        expect(reason).toBeInstanceOf(errors.InvalidGrant);
        expect((reason as InstanceType<typeof errors.InvalidGrant>).error).toBe('invalid_grant');
        expect((reason as InstanceType<typeof errors.InvalidGrant>).statusCode).toBe(400);
      }
      expect((await store.adapter(model).find(id))?.consumed).toBeTruthy();
    });
  });

  describe('consume across two independent connection pools (two server instances)', () => {
    let second: Knex;
    beforeAll(() => {
      second = createDatabase(parseDatabaseUrl(store.url));
    });
    afterAll(async () => second?.destroy());

    it.each(['AuthorizationCode', 'RefreshToken'])('ten concurrent consumes of one %s split over both: one wins', async (model) => {
      const id = randomId();
      await store.adapter(model).upsert(id, payloadFor(model, id), 600);
      const other = new PayloadAdapter(second, model, store.sealer, { errors: adapterErrors, now: store.clock.now });

      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? store.adapter(model) : other).consume(id)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(lost).toHaveLength(9);
      for (const { reason } of lost) {
        expect(reason).toBeInstanceOf(errors.InvalidGrant);
        expect((reason as InstanceType<typeof errors.InvalidGrant>).statusCode).toBe(400);
      }
    });
  });

  describe('ReplayDetection is insert-only', () => {
    it('a second upsert of the same id throws a 4xx OIDCProviderError and keeps the first row', async () => {
      const replay = store.adapter('ReplayDetection');
      const id = randomId();
      const first = payloadFor('ReplayDetection', id, { marker: 'https://first.example' });
      await replay.upsert(id, first, 300);

      const error = await replay.upsert(id, payloadFor('ReplayDetection', id), 300).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(errors.OIDCProviderError);
      const e = error as InstanceType<typeof errors.OIDCProviderError>;
      expect(e.statusCode).toBeGreaterThanOrEqual(400);
      expect(e.statusCode).toBeLessThan(500);
      expect(e.expose).toBe(true);
      expect(typeof e.error).toBe('string');

      expect(await replay.find(id)).toEqual(first);
    });

    it('ten concurrent upserts of one id: exactly one is stored', async () => {
      const id = randomId();
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => store.adapter('ReplayDetection').upsert(id, payloadFor('ReplayDetection', id), 300)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(lost).toHaveLength(9);
      for (const { reason } of lost) {
        expect(reason).toBeInstanceOf(errors.OIDCProviderError);
        expect((reason as InstanceType<typeof errors.OIDCProviderError>).statusCode).toBeLessThan(500);
      }
      expect(await countRows(store, 'model = ? AND id = ?', ['ReplayDetection', store.sealer.digest(id)])).toBe(1);
    });

    it('an expired but unpurged entry still refuses the same id', async () => {
      const replay = store.adapter('ReplayDetection');
      const id = randomId();
      await replay.upsert(id, payloadFor('ReplayDetection', id), 30);
      store.clock.set(T0 + 60 * 1000);
      expect(await replay.find(id)).toBeUndefined();
      await expect(replay.upsert(id, payloadFor('ReplayDetection', id), 30)).rejects.toBeInstanceOf(
        errors.OIDCProviderError,
      );
    });

    it('the same id under another model is not a replay', async () => {
      const id = randomId();
      await store.adapter('AccessToken').upsert(id, payloadFor('AccessToken', id), 300);
      await expect(store.adapter('ReplayDetection').upsert(id, payloadFor('ReplayDetection', id), 300)).resolves.toBeUndefined();
    });
  });

  it('an adapter without an injected clock uses the wall clock', async () => {
    const adapter = new PayloadAdapter(store.db, 'AccessToken', store.sealer, { errors: adapterErrors });
    const id = randomId();
    const before = Date.now();
    await adapter.upsert(id, payloadFor('AccessToken', id), 60);
    const expiresAt = Number((await rawRow(store, 'AccessToken', id))?.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 60 * 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60 * 1000);
    expect((await adapter.find(id))?.jti).toBe(id);
  });
});
