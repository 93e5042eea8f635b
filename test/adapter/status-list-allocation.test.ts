// Status list indexes (adapters/status-list-store.ts, server/services/status-list-allocator.ts)
// on both stores, with a clock the test moves: indexes come in blocks leased per instance, two
// instances (two connection pools on one database) never hold one index at once, and an index
// comes back only after every token that held it has expired, plus the APIs' leeway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { BLOCK_SIZE, StatusListStore } from '../../adapters/status-list-store.ts';
import { EXPIRY_LEEWAY_MS, IndexAllocator, LEASE_MARGIN_MS, LEASE_MS } from '../../server/services/status-list-allocator.ts';
import { parseDatabaseUrl } from '../../server/config/env.ts';
import { createDatabase } from '../../server/db/knex.ts';
import { REVOKED, TABLE } from '../../adapters/payload-reader.ts';
import { STORES } from '../helpers/databases.ts';
import { openStore, randomId, T0, type TestStore } from './context.ts';

const HOUR = 3600_000;

describe.each(STORES)('status list index allocation (%s)', (kind) => {
  let s: TestStore;
  let other: Knex;
  /** Two instances: each its own pool, as two servers on one database. */
  let storeA: StatusListStore;
  let storeB: StatusListStore;
  let lists = 0;
  const newList = () => `list-${kind}-${(lists += 1)}`;

  beforeAll(async () => {
    s = await openStore(kind);
    other = createDatabase(parseDatabaseUrl(s.url));
    storeA = new StatusListStore(s.db);
    storeB = new StatusListStore(other);
  });
  afterAll(async () => {
    await other?.destroy();
    await s?.close();
  });

  /** A token issued now under `grantKey` with the index `allocator` hands out, living `lifetime` ms. */
  async function issue(allocator: IndexAllocator, store: StatusListStore, listId: string, { grantKey = randomId(), lifetime = HOUR } = {}) {
    const idx = await allocator.take(s.clock.now() + lifetime);
    await store.record({ listId, idx, grantKey, expiresAt: s.clock.now() + lifetime });
    return { idx, grantKey };
  }

  it('an instance takes consecutive indexes from its block; another instance gets a block of its own', async () => {
    s.clock.set(T0);
    const list = newList();
    const a = new IndexAllocator(list, storeA, s.clock.now);
    const b = new IndexAllocator(list, storeB, s.clock.now);
    expect([await a.take(s.clock.now() + HOUR), await a.take(s.clock.now() + HOUR), await a.take(s.clock.now() + HOUR)]).toEqual([0, 1, 2]);
    expect(await b.take(s.clock.now() + HOUR)).toBe(BLOCK_SIZE);
    expect(await a.take(s.clock.now() + HOUR)).toBe(3);
    expect(await storeA.length(list)).toBe(2 * BLOCK_SIZE);
  });

  it('instances leasing at the same moment never share a block, and concurrent takes never share an index', async () => {
    s.clock.set(T0);
    const list = newList();
    const allocators = Array.from({ length: 8 }, (_, i) => new IndexAllocator(list, i % 2 ? storeB : storeA, s.clock.now));
    const taken = await Promise.all(allocators.flatMap((allocator) => Array.from({ length: 40 }, () => allocator.take(s.clock.now() + HOUR))));
    expect(new Set(taken).size).toBe(taken.length);
    const blocks = new Set(taken.map((idx) => Math.floor(idx / BLOCK_SIZE)));
    expect(blocks.size).toBe(8);
    expect(Math.max(...blocks)).toBe(7);
  });

  it('a quiet instance keeps its block, renewing the lease, instead of leasing another', async () => {
    s.clock.set(T0);
    const list = newList();
    const a = new IndexAllocator(list, storeA, s.clock.now);
    expect(await a.take(s.clock.now() + HOUR)).toBe(0);
    s.clock.advance(LEASE_MS - LEASE_MARGIN_MS + 1);
    expect(await a.take(s.clock.now() + HOUR)).toBe(1);
    s.clock.advance(3 * LEASE_MS);
    expect(await a.take(s.clock.now() + HOUR)).toBe(2);
    expect(await storeA.length(list)).toBe(BLOCK_SIZE);
  });

  it('an index is reused only once every token that held it has expired, plus the leeway', async () => {
    s.clock.set(T0);
    const list = newList();
    const first = new IndexAllocator(list, storeA, s.clock.now);
    const held = await issue(first, storeA, list, { lifetime: HOUR });
    expect(held.idx).toBe(0);
    await storeA.recallGrant(held.grantKey);
    expect(await storeA.recalled(list, s.clock.now() - EXPIRY_LEEWAY_MS)).toEqual([0]);

    // The first instance is gone (its lease ends), its token lives on: a newcomer leases another block.
    s.clock.advance(LEASE_MS + 1);
    expect(await new IndexAllocator(list, storeB, s.clock.now).take(s.clock.now() + HOUR)).toBe(BLOCK_SIZE);
    // The token expires; within the leeway an API may still accept it, so its bit and its index stay.
    s.clock.set(T0 + HOUR + EXPIRY_LEEWAY_MS - 1000);
    expect(await storeA.recalled(list, s.clock.now() - EXPIRY_LEEWAY_MS)).toEqual([0]);
    // (Block 1's lease has ended too, and it never held a token: it is the one leased now.)
    expect(await new IndexAllocator(list, storeA, s.clock.now).take(s.clock.now() + HOUR)).toBe(BLOCK_SIZE);
    // Past the leeway: block 0 is free again, its old entry gone with the recalled bit.
    s.clock.set(T0 + HOUR + EXPIRY_LEEWAY_MS + 1);
    const reused = new IndexAllocator(list, storeB, s.clock.now);
    const again = await issue(reused, storeB, list);
    expect(again.idx).toBe(0);
    expect(await storeA.recalled(list, s.clock.now() - EXPIRY_LEEWAY_MS)).toEqual([]);
    // Recalling the old grant now touches nothing of the new holder.
    await storeA.recallGrant(held.grantKey);
    expect(await storeA.recalled(list, s.clock.now() - EXPIRY_LEEWAY_MS)).toEqual([]);
  });

  it('a block is not reused while any one of its tokens lives, however many have expired', async () => {
    s.clock.set(T0);
    const list = newList();
    const a = new IndexAllocator(list, storeA, s.clock.now);
    for (let i = 0; i < 5; i += 1) await issue(a, storeA, list, { lifetime: 60_000 });
    await issue(a, storeA, list, { lifetime: 2 * HOUR });
    s.clock.set(T0 + HOUR);
    expect(await new IndexAllocator(list, storeB, s.clock.now).take(s.clock.now() + HOUR)).toBe(BLOCK_SIZE);
    s.clock.set(T0 + 2 * HOUR + EXPIRY_LEEWAY_MS + 1);
    expect(await new IndexAllocator(list, storeB, s.clock.now).take(s.clock.now() + HOUR)).toBe(0);
  });

  it('an instance moving on from a block says until when its tokens live; the next lease goes by that', async () => {
    s.clock.set(T0);
    const list = newList();
    const a = new IndexAllocator(list, storeA, s.clock.now);
    // No entries written: only the hint can keep block 0 from being leased again.
    for (let i = 0; i < BLOCK_SIZE; i += 1) await a.take(T0 + 2 * HOUR);
    expect(await a.take(T0 + 60_000)).toBe(BLOCK_SIZE);
    let hint: unknown;
    for (let tries = 0; tries < 50 && !hint; tries += 1) {
      hint = (await s.db('status_list_blocks').where({ list_id: list, block: 0 }).first())?.live_until;
      if (!hint) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(Number(hint)).toBe(T0 + 2 * HOUR);
    // Both leases ended: block 1 never said anything and holds no entry, block 0 said "two hours".
    s.clock.set(T0 + HOUR);
    expect(await new IndexAllocator(list, storeB, s.clock.now).take(s.clock.now() + HOUR)).toBe(BLOCK_SIZE);
    s.clock.set(T0 + 2 * HOUR + EXPIRY_LEEWAY_MS + 1);
    expect(await new IndexAllocator(list, storeB, s.clock.now).take(s.clock.now() + HOUR)).toBe(0);
  });

  it('recalls set the bits of one grant only, in the lists named; a token written after its grant was revoked is recalled at once', async () => {
    s.clock.set(T0);
    const [contacts, calendar] = [newList(), newList()];
    const grant = randomId();
    const ours = [
      await issue(new IndexAllocator(contacts, storeA, s.clock.now), storeA, contacts, { grantKey: grant }),
      await issue(new IndexAllocator(calendar, storeA, s.clock.now), storeA, calendar, { grantKey: grant }),
    ];
    const theirs = await issue(new IndexAllocator(contacts, storeB, s.clock.now), storeB, contacts);
    await storeA.recallGrant(grant, [contacts]);
    const since = s.clock.now() - EXPIRY_LEEWAY_MS;
    expect(await storeA.recalled(contacts, since)).toEqual([ours[0]?.idx]);
    expect(await storeA.recalled(calendar, since)).toEqual([]);
    expect(theirs.idx).not.toBe(ours[0]?.idx);

    // The grant's tombstone (knex-adapter.ts) is there before the entry of a token minted in the race.
    const dead = randomId();
    await s.db.raw(`INSERT INTO ${TABLE} (model, id, payload, expires_at) VALUES (?, ?, '', ?)`, [REVOKED, dead, s.clock.now() + HOUR]);
    const late = await issue(new IndexAllocator(calendar, storeA, s.clock.now), storeA, calendar, { grantKey: dead });
    expect(await storeA.recalled(calendar, since)).toEqual([late.idx]);
  });
});
