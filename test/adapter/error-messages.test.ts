// A failed statement's error reaches the logs: it must carry the SQL, never its bound values
// (password hashes, emails, addresses). Knex inlines the values unless told not to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/databases.ts';
import { openStore, type TestStore } from './context.ts';

describe.each(STORES)('database error messages (%s)', (kind) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openStore(kind);
  });
  afterAll(async () => store?.close());

  it('name the statement without its bound values', async () => {
    const row = { id: 'u1', email: 'secret-email@example.com', password_hash: 'scrypt$SECRET-HASH-VALUE', created_at: 1, email_verified: false };
    await store.db('users').insert(row);
    const error = await store.db('users').insert({ ...row, id: 'u2' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toMatch(/insert into [`"]users[`"]/i);
    expect(error?.message).not.toContain('secret-email@example.com');
    expect(error?.message).not.toContain('SECRET-HASH-VALUE');
    expect(error?.stack ?? '').not.toContain('SECRET-HASH-VALUE');
  });
});
