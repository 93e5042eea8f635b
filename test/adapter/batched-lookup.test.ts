// Users looked up together (every refresh reads its user) on both stores: concurrent lookups
// share one statement and each gets its own row; nothing is kept between turns, so a user
// disabled a moment ago is seen disabled by the next lookup; a failed statement fails exactly
// the lookups that were waiting on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccounts, type Accounts } from '../../server/services/accounts.ts';
import { batchedLookup } from '../../server/db/batched-lookup.ts';
import { STORES } from '../helpers/databases.ts';
import { openStore, type TestStore } from './context.ts';

describe.each(STORES)('users looked up together (%s)', (kind) => {
  let store: TestStore;
  let accounts: Accounts;
  const queries: string[] = [];

  beforeAll(async () => {
    store = await openStore(kind);
    accounts = createAccounts(store.db);
    store.db.on('query', (query: { sql: string }) => queries.push(query.sql));
  });
  afterAll(async () => store?.close());

  it('answers concurrent lookups with one statement, each with its own user', async () => {
    const users = [];
    for (const name of ['ada', 'bob', 'cy']) users.push(await accounts.create({ email: `${name}@example.com`, password: 'correct horse battery' }));
    queries.length = 0;
    const ids = [...users.map((u) => u.id), users[0]?.id as string, 'nobody', ''];
    const found = await Promise.all(ids.map((id) => accounts.findById(id)));
    expect(found.map((u) => u?.email)).toEqual(['ada@example.com', 'bob@example.com', 'cy@example.com', 'ada@example.com', undefined, undefined]);
    expect(queries.filter((sql) => /from .users./i.test(sql))).toHaveLength(1);
  });

  it('keeps nothing between lookups: a user disabled now is seen disabled by the next one', async () => {
    const user = await accounts.create({ email: 'dee@example.com', password: 'correct horse battery' });
    expect((await accounts.findById(user.id))?.disabled).toBe(false);
    await accounts.setDisabled(user.id, true);
    expect((await accounts.findById(user.id))?.disabled).toBe(true);
  });
});

describe('a batched lookup whose statement fails', () => {
  it('fails the lookups waiting on it, and the next turn reads again', async () => {
    let calls = 0;
    const lookup = batchedLookup(async (keys) => {
      calls += 1;
      if (calls === 1) throw new Error('database went away');
      return new Map(keys.map((key) => [key, key.toUpperCase()]));
    });
    const first = await Promise.allSettled([lookup('a'), lookup('b')]);
    expect(first.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    await expect(lookup('a')).resolves.toBe('A');
    expect(calls).toBe(2);
  });
});
