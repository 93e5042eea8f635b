// The payload writes of concurrent requests and of one refresh, on both stores, through the
// writer the server uses (group commit; on SQLite with prepared statements):
// - upserts that arrive together are written by one statement, and a row whose grant was
//   revoked is refused on its own, failing only its request;
// - a unit (a refresh's consume, new tokens and grace record) is written whole: a lost consume
//   writes none of it, a grant revoked before the commit writes none of it (the grace record
//   included), and work that throws leaves the presented token unconsumed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAdapterFactory, PayloadAdapter } from '../../adapters/knex-adapter.ts';
import { GroupCommit, type Writer } from '../../adapters/group-commit.ts';
import { PayloadReader } from '../../adapters/payload-reader.ts';
import { withRequestScope } from '../../adapters/request-scope.ts';
import { SqliteStatements } from '../../adapters/sqlite-statements.ts';
import { asOneUnit } from '../../adapters/write-unit.ts';
import { adapterErrors } from '../../server/oidc/provider.ts';
import { STORES } from '../helpers/databases.ts';
import { T0, openStore, randomId, type TestStore } from './context.ts';

describe.each(STORES)('writes together and units (%s)', (kind) => {
  let store: TestStore;
  let writer: Writer;
  let adapter: (model: string) => PayloadAdapter;
  const executed: string[] = [];

  beforeAll(async () => {
    store = await openStore(kind);
    const statements = kind === 'sqlite' ? new SqliteStatements(store.db, { onStatement: (sql) => executed.push(sql) }) : undefined;
    writer = new GroupCommit(store.db, { statements });
    if (!statements) store.db.on('query', (query: { sql: string }) => executed.push(query.sql));
    const factory = createAdapterFactory(
      store.db,
      store.sealer,
      { adapter: () => undefined as never },
      { errors: adapterErrors, now: store.clock.now, writer, reader: new PayloadReader(store.db, store.clock.now) },
    );
    adapter = (model) => factory(model) as PayloadAdapter;
  });
  afterAll(async () => store?.close());
  beforeEach(async () => {
    store.clock.set(T0);
    await store.db.raw('DELETE FROM oidc_payloads');
    executed.length = 0;
  });

  const token = (grantId: string) => {
    const id = randomId();
    return { id, payload: { jti: id, grantId, accountId: 'alice', clientId: 'app', kind: 'RefreshToken' } };
  };

  async function grantWithToken() {
    const grantId = randomId();
    await adapter('Grant').upsert(grantId, { jti: grantId, accountId: 'alice', clientId: 'app', kind: 'Grant' }, 3600);
    const presented = token(grantId);
    await adapter('RefreshToken').upsert(presented.id, presented.payload, 3600);
    return { grantId, presented };
  }

  /** A refresh's writes: consume the presented token, save its successor and a grace record. */
  function refresh(grantId: string, presentedId: string) {
    const successor = token(grantId);
    const grace = randomId();
    const done = withRequestScope(() =>
      asOneUnit(writer, async () => {
        await adapter('RefreshToken').consume(presentedId);
        await adapter('RefreshToken').upsert(successor.id, successor.payload, 3600);
        await adapter('AccessToken').upsert(successor.id, { ...successor.payload, kind: 'AccessToken' }, 600);
        await adapter('Redemption').upsert(grace, { clientId: 'app', replays: 0 }, 5);
      }),
    );
    return { done, successor, grace };
  }

  it('writes upserts that arrive together with one statement, refusing only the row whose grant is revoked', async () => {
    const live = randomId();
    const revoked = randomId();
    await adapter('Grant').destroy(revoked);
    const tokens = Array.from({ length: 40 }, (_, i) => token(i === 7 ? revoked : live));
    executed.length = 0;
    const outcomes = await Promise.allSettled(tokens.map((t) => adapter('AccessToken').upsert(t.id, t.payload, 600)));
    expect(outcomes.map((o) => o.status).filter((s) => s === 'rejected')).toHaveLength(1);
    expect((outcomes[7] as PromiseRejectedResult).reason).toMatchObject({ error_detail: 'grant revoked' });
    const inserts = executed.filter((sql) => /^\s*INSERT INTO oidc_payloads/i.test(sql));
    // The batch is one multi-row statement (two if it arrived over two turns).
    expect(inserts.length).toBeLessThanOrEqual(2);
    for (const [i, t] of tokens.entries()) {
      expect(Boolean(await adapter('AccessToken').find(t.id)), `token ${i}`).toBe(i !== 7);
    }
  });

  it('commits a unit whole: the presented token consumed, the successor and grace record stored', async () => {
    const { grantId, presented } = await grantWithToken();
    const { done, successor, grace } = refresh(grantId, presented.id);
    await done;
    expect((await adapter('RefreshToken').find(presented.id))?.consumed).toBeTruthy();
    expect((await adapter('RefreshToken').find(successor.id))?.jti).toBe(successor.id);
    expect(await adapter('AccessToken').find(successor.id)).toBeDefined();
    expect(await adapter('Redemption').find(grace)).toBeDefined();
  });

  it('lets exactly one of two units consume a token; the loser writes nothing', async () => {
    const { grantId, presented } = await grantWithToken();
    const first = refresh(grantId, presented.id);
    const second = refresh(grantId, presented.id);
    const outcomes = await Promise.allSettled([first.done, second.done]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const [winner, loser] = outcomes[0]?.status === 'fulfilled' ? [first, second] : [second, first];
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as { error_detail?: string }).error_detail).toBe('refresh token already used');
    expect(await adapter('RefreshToken').find(winner.successor.id)).toBeDefined();
    expect(await adapter('RefreshToken').find(loser.successor.id)).toBeUndefined();
    expect(await adapter('AccessToken').find(loser.successor.id)).toBeUndefined();
    expect(await adapter('Redemption').find(loser.grace)).toBeUndefined();
  });

  it('commits concurrent refreshes in waves, one statement for every consume, and a used token fails only its own refresh', async () => {
    const chains = [];
    for (let i = 0; i < 20; i += 1) chains.push(await grantWithToken());
    const used = 5;
    await adapter('RefreshToken').consume((chains[used] as (typeof chains)[number]).presented.id);
    executed.length = 0;
    const refreshes = chains.map(({ grantId, presented }) => refresh(grantId, presented.id));
    const outcomes = await Promise.allSettled(refreshes.map((r) => r.done));
    expect(outcomes.map((o, i) => (o.status === 'rejected' ? i : -1)).filter((i) => i >= 0)).toEqual([used]);
    for (const [i, r] of refreshes.entries()) {
      expect(Boolean(await adapter('RefreshToken').find(r.successor.id)), `successor ${i}`).toBe(i !== used);
      expect(Boolean(await adapter('Redemption').find(r.grace)), `grace record ${i}`).toBe(i !== used);
    }
    for (const { presented } of chains) expect((await adapter('RefreshToken').find(presented.id))?.consumed).toBeTruthy();
    // 20 refreshes of one batch: their consumes in one statement, their 60 new rows in another.
    expect(executed.filter((sql) => /^\s*UPDATE oidc_payloads/i.test(sql)).length).toBeLessThanOrEqual(2);
    expect(executed.filter((sql) => /^\s*INSERT INTO oidc_payloads/i.test(sql)).length).toBeLessThanOrEqual(2);
  });

  it('writes nothing of a unit whose grant is revoked before it commits, the grace record included', async () => {
    const { grantId, presented } = await grantWithToken();
    const successor = token(grantId);
    const grace = randomId();
    const done = withRequestScope(() =>
      asOneUnit(writer, async () => {
        await adapter('RefreshToken').consume(presented.id);
        await adapter('RefreshToken').upsert(successor.id, successor.payload, 3600);
        // Revoked by someone else (the user, a reuse detection) while this refresh is answering.
        await withRequestScope(() => adapter('Grant').destroy(grantId));
        await adapter('Redemption').upsert(grace, { clientId: 'app', replays: 0 }, 5);
      }),
    );
    await expect(done).rejects.toMatchObject({ error: 'invalid_grant', error_detail: 'grant revoked' });
    const rows = (await store.db('oidc_payloads').whereIn('model', ['RefreshToken', 'Redemption']).select('model')) as Array<{ model: string }>;
    // Only the presented token remains; neither the successor nor the grace record was written.
    expect(rows.map((r) => r.model)).toEqual(['RefreshToken']);
  });

  it('keeps nothing of a unit whose work throws: the presented token stays usable', async () => {
    const { presented } = await grantWithToken();
    const done = withRequestScope(() =>
      asOneUnit(writer, async () => {
        await adapter('RefreshToken').consume(presented.id);
        throw new Error('the resource was refused after the consume');
      }),
    );
    await expect(done).rejects.toThrow(/refused after the consume/);
    expect((await adapter('RefreshToken').find(presented.id))?.consumed).toBeUndefined();
  });
});
