// Group commit on a real SQLite file (synchronous=FULL): writes that arrive together share one
// transaction, each caller is answered only once its batch has committed, a failed batch fails
// every write in it and leaves none of them behind, and conditional statements in one batch
// decide exactly as they would one by one. On PostgreSQL, a batch aborted to break a deadlock
// between two instances is run once more.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { createDatabase } from '../../server/db/knex.ts';
import { GroupCommit } from '../../adapters/group-commit.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.ts';

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

describe('group commit (PostgreSQL, two instances)', () => {
  let fresh: FreshDatabase;
  let first: Knex;
  let second: Knex;

  beforeAll(async () => {
    fresh = await freshDatabase('pg');
    first = createDatabase({ client: 'pg', connectionString: fresh.url });
    second = createDatabase({ client: 'pg', connectionString: fresh.url });
    await first.raw('CREATE TABLE rows (id TEXT PRIMARY KEY, used_at BIGINT)');
    await first.raw("INSERT INTO rows (id) VALUES ('x'), ('y')");
  });
  afterAll(async () => {
    await first?.destroy();
    await second?.destroy();
    await fresh?.drop();
  });

  it('runs a batch PostgreSQL aborted to break a deadlock once more, so neither instance fails its requests', async () => {
    // Each instance's batch locks one row, waits, then wants the other's: a deadlock that
    // PostgreSQL breaks by aborting one transaction (after deadlock_timeout, 1 s).
    const batch = (writer: GroupCommit, a: string, b: string, mark: number) =>
      Promise.all([
        writer.write({ sql: 'UPDATE rows SET used_at = ? WHERE id = ? RETURNING id', bindings: [mark, a] }),
        writer.write({ sql: 'SELECT pg_sleep(0.3) AS slept', bindings: [] }),
        writer.write({ sql: 'UPDATE rows SET used_at = ? WHERE id = ? RETURNING id', bindings: [mark, b] }),
      ]);
    const outcomes = await Promise.allSettled([batch(new GroupCommit(first), 'x', 'y', 1), batch(new GroupCommit(second), 'y', 'x', 2)]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))).toEqual(['ok', 'ok']);
    // Both batches committed whole, one after the other: both rows carry the later one's mark.
    const rows = (await first.raw('SELECT DISTINCT used_at FROM rows')).rows as Array<{ used_at: number }>;
    expect(rows).toHaveLength(1);
  });
});
