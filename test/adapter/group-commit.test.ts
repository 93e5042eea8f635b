// Group commit on a real SQLite file (synchronous=FULL): writes that arrive together share one
// transaction, each caller is answered only once its batch has committed, a failed batch fails
// every write in it and leaves none of them behind, and conditional statements in one batch
// decide exactly as they would one by one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { createDatabase } from '../../server/db/knex.ts';
import { GroupCommit } from '../../adapters/group-commit.ts';

describe('group commit (SQLite)', () => {
  let dir: string;
  let db: Knex;
  let writer: GroupCommit;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-group-commit-'));
    db = createDatabase({ client: 'sqlite', filename: path.join(dir, 'db.sqlite'), synchronous: 'FULL' });
    await db.raw('CREATE TABLE rows (id TEXT PRIMARY KEY, used_at INTEGER)');
    writer = new GroupCommit(db);
  });
  afterEach(async () => {
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const insert = (id: string) => writer.write({ sql: 'INSERT INTO rows (id) VALUES (?) RETURNING id', bindings: [id] });

  it('commits concurrent writes in fewer transactions than writes, every one of them stored', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `row-${i}`);
    const results = await Promise.all(ids.map(insert));
    expect(results.every((rows) => rows.length === 1)).toBe(true);
    expect(writer.stats.writes).toBe(200);
    expect(writer.stats.batches).toBeLessThan(20);
    // Read through a second connection: what was acknowledged is committed, not just queued.
    const other = createDatabase({ client: 'sqlite', filename: path.join(dir, 'db.sqlite'), synchronous: 'FULL' });
    try {
      const rows = (await other.raw('SELECT count(*) AS n FROM rows')) as Array<{ n: number }>;
      expect(rows[0]?.n).toBe(200);
    } finally {
      await other.destroy();
    }
  });

  it('fails every write of a failed batch, keeps none of it, and goes on afterwards', async () => {
    await insert('taken');
    const batch = [insert('a'), insert('taken'), insert('b')];
    const outcomes = await Promise.allSettled(batch);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const stored = ((await db.raw('SELECT id FROM rows ORDER BY id')) as Array<{ id: string }>).map((r) => r.id);
    expect(stored).toEqual(['taken']);
    await expect(insert('c')).resolves.toHaveLength(1);
  });

  it('decides conditional statements in one batch as one by one: a single consume wins', async () => {
    await insert('code');
    const consume = () =>
      writer.write({
        sql: 'UPDATE rows SET used_at = 1 WHERE id = ? AND used_at IS NULL RETURNING id',
        bindings: ['code'],
        refusal: () => new Error('already used'),
      });
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, consume));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual(
      Array(9).fill('Error: already used'),
    );
    expect(writer.stats.batches).toBe(2);
  });

  it('drain waits for queued writes', async () => {
    const pending = Promise.all([insert('x'), insert('y')]);
    await writer.drain();
    const rows = (await db.raw('SELECT count(*) AS n FROM rows')) as Array<{ n: number }>;
    expect(rows[0]?.n).toBe(2);
    await pending;
  });
});
