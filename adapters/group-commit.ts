// How the payload adapter's writes reach the database.
//
// SQLite with synchronous=FULL syncs the WAL on every commit, so one autocommit statement per
// token caps a server at a few thousand writes a second whatever the CPU. Group commit queues
// the writes that arrive together (token inserts, consumes, grant updates, tombstones) and
// commits them in one transaction: one sync for the batch. Each caller is answered only after
// its batch has committed, so an acknowledged write is still a durable one; if the batch fails,
// every write in it fails (the provider answers those requests with server_error) and nothing
// of it is visible. Statements keep their own conditions (tombstone checks, `consumed_at IS
// NULL`) and run in arrival order inside the transaction, so a batch decides exactly what the
// same statements one by one would have. Consecutive upserts of the batch go in one multi-row
// statement (payload-upsert.ts), each row still checked on its own.
//
// A unit (writeAll) is several writes of one request that stand or fall together: a refresh's
// consume, its new tokens and its grace record. They run in order in one transaction, and the
// first refused write ends the unit: what follows it is not written.
//
// PostgreSQL needs no group commit: its WAL writer already flushes concurrent commits from the
// pool's connections together, so there each write is its own statement (directWriter), and a
// unit its own transaction.
import type { Knex } from 'knex';
import { isPostgres, rowsOf } from '../server/db/knex.ts';
import { rowKey, upsertStatement, type UpsertRow } from './payload-upsert.ts';
import type { Execute, SqliteStatements } from './sqlite-statements.ts';

/** One write: a statement, or a row of the payload table's upsert. */
export type Write = (
  | { sql: string; bindings: readonly Knex.RawBinding[] }
  | {
      upsert: UpsertRow;
      /** The grant whose tombstone refuses this row (default: its own grant_id). */
      guard?: string | null;
    }
) & {
  /** The error when the write changes no row: a condition refused it (a lost consume, a tombstone). */
  refusal?: () => Error;
};

export interface Writer {
  /** Runs one write; resolves with its RETURNING rows once durable, rejects with its refusal. */
  write(write: Write): Promise<unknown[]>;
  /** Runs `writes` in order in one transaction; the first refusal ends them and rejects. */
  writeAll(writes: readonly Write[]): Promise<void>;
  /** Resolves when every queued write has been committed or failed. */
  drain(): Promise<void>;
}

type Dialect = 'sqlite' | 'pg';

/** A bound on one multi-row upsert: few statement shapes to prepare, modest bindings. */
const MAX_UPSERT_ROWS = 64;

interface Outcome {
  rows: unknown[][];
  refusal?: Error;
}

/**
 * Runs the writes of several owners (requests) in order: an owner's writes stop at its first
 * refusal, and consecutive upserts of owners still going are written by one statement.
 */
async function runWrites(owners: ReadonlyArray<readonly Write[]>, execute: Execute, dialect: Dialect): Promise<Outcome[]> {
  const outcomes: Outcome[] = owners.map(() => ({ rows: [] }));
  const steps = owners.flatMap((writes, owner) => writes.map((write) => ({ owner, write })));
  for (let at = 0; at < steps.length; ) {
    const step = steps[at] as (typeof steps)[number];
    const outcome = outcomes[step.owner] as Outcome;
    if (outcome.refusal) {
      at += 1;
      continue;
    }
    if (!('upsert' in step.write)) {
      const rows = await execute(step.write.sql, step.write.bindings);
      outcome.rows.push(rows);
      if (rows.length === 0 && step.write.refusal) outcome.refusal = step.write.refusal();
      at += 1;
      continue;
    }
    const run: Array<{ owner: number; write: Write & { upsert: UpsertRow; guard?: string | null } }> = [];
    const keys = new Set<string>();
    while (at < steps.length && run.length < MAX_UPSERT_ROWS) {
      const next = steps[at] as (typeof steps)[number];
      if (!('upsert' in next.write)) break;
      if (outcomes[next.owner]?.refusal) {
        at += 1;
        continue;
      }
      const key = rowKey(next.write.upsert[0], next.write.upsert[1]);
      if (keys.has(key)) break; // one statement may not write a row twice
      keys.add(key);
      run.push({ owner: next.owner, write: next.write });
      at += 1;
    }
    const { sql, bindings } = upsertStatement(
      run.map(({ write }) => write.upsert),
      run.map(({ write }) => (write.guard === undefined ? write.upsert[3] : write.guard)),
      dialect,
    );
    const written = new Set((await execute(sql, bindings)).map((row) => rowKey((row as { model: string }).model, (row as { id: string }).id)));
    for (const { owner, write } of run) {
      const target = outcomes[owner] as Outcome;
      const ok = written.has(rowKey(write.upsert[0], write.upsert[1]));
      target.rows.push(ok ? [{ model: write.upsert[0], id: write.upsert[1] }] : []);
      if (!ok && write.refusal && !target.refusal) target.refusal = write.refusal();
    }
  }
  return outcomes;
}

/** Whether runWrites will run these as one statement, which needs no transaction around it. */
function isOneStatement(owners: ReadonlyArray<readonly Write[]>): boolean {
  if (owners.length === 1 && owners[0]?.length === 1) return true;
  if (owners.length > MAX_UPSERT_ROWS) return false;
  const keys = new Set<string>();
  for (const writes of owners) {
    const write = writes[0];
    if (writes.length !== 1 || !write || !('upsert' in write)) return false;
    const key = rowKey(write.upsert[0], write.upsert[1]);
    if (keys.has(key)) return false;
    keys.add(key);
  }
  return true;
}

function dialectOf(db: Knex): Dialect {
  return isPostgres(db) ? 'pg' : 'sqlite';
}

const knexExecute =
  (db: Knex | Knex.Transaction): Execute =>
  async (sql, bindings) =>
    rowsOf(await db.raw(sql, bindings as Knex.RawBinding[]));

function settle(outcome: Outcome): unknown[] {
  if (outcome.refusal) throw outcome.refusal;
  return outcome.rows[0] ?? [];
}

export function directWriter(db: Knex): Writer {
  const dialect = dialectOf(db);
  return {
    write: async (write) => settle(((await runWrites([[write]], knexExecute(db), dialect)) as Outcome[])[0] as Outcome),
    writeAll: async (writes) => {
      const [outcome] = await db.transaction((trx) => runWrites([writes], knexExecute(trx), dialect));
      settle(outcome as Outcome);
    },
    drain: async () => undefined,
  };
}

interface Pending {
  writes: readonly Write[];
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

/** A bound on one transaction, so a burst never holds the database for long. */
const MAX_BATCH = 256;

export class GroupCommit implements Writer {
  readonly #db: Knex;
  readonly #dialect: Dialect;
  readonly #maxBatch: number;
  readonly #statements: SqliteStatements | undefined;
  #queue: Pending[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  /** Batches committed and writes (single writes or units) in them, for the benchmark and tests. */
  readonly stats = { batches: 0, writes: 0 };

  /** With `statements` (SQLite), batches run as reused prepared statements, not through Knex. */
  constructor(db: Knex, { maxBatch = MAX_BATCH, statements }: { maxBatch?: number; statements?: SqliteStatements } = {}) {
    this.#db = db;
    this.#dialect = dialectOf(db);
    this.#maxBatch = maxBatch;
    this.#statements = statements;
  }

  async write(write: Write): Promise<unknown[]> {
    return settle(await this.#enqueue([write]));
  }

  async writeAll(writes: readonly Write[]): Promise<void> {
    settle(await this.#enqueue(writes));
  }

  #enqueue(writes: readonly Write[]): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ writes, resolve, reject });
      this.#schedule();
    });
  }

  async drain(): Promise<void> {
    while (this.#queue.length > 0 || this.#flushing || this.#scheduled) {
      await (this.#flushing ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#flushing) return;
    this.#scheduled = true;
    // One turn of the event loop: the writes of every request handled in this turn go together.
    setImmediate(() => {
      this.#scheduled = false;
      this.#flushing = this.#flush().finally(() => {
        this.#flushing = undefined;
        if (this.#queue.length > 0) this.#schedule();
      });
    });
  }

  async #flush(): Promise<void> {
    // Writes queued while a batch commits form the next batch: the busier, the fuller.
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      try {
        const outcomes = await this.#commit(batch.map((pending) => pending.writes));
        this.stats.batches += 1;
        this.stats.writes += batch.length;
        batch.forEach((pending, i) => pending.resolve(outcomes[i] as Outcome));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
  }

  async #commit(owners: ReadonlyArray<readonly Write[]>): Promise<Outcome[]> {
    // One statement is atomic on its own: no BEGIN and COMMIT around it (the usual W1 batch).
    const alone = isOneStatement(owners);
    if (!this.#statements) {
      if (alone) return runWrites(owners, knexExecute(this.#db), this.#dialect);
      return this.#db.transaction((trx) => runWrites(owners, knexExecute(trx), this.#dialect));
    }
    return this.#statements.withConnection(async (execute) => {
      if (alone) return runWrites(owners, execute, this.#dialect);
      // IMMEDIATE: take the write lock now, waiting on busy_timeout if another process (the
      // CLI) holds it, rather than failing midway when a read would have to become a write.
      await execute('BEGIN IMMEDIATE', []);
      try {
        const outcomes = await runWrites(owners, execute, this.#dialect);
        await execute('COMMIT', []);
        return outcomes;
      } catch (error) {
        await execute('ROLLBACK', []).catch(() => undefined);
        throw error;
      }
    });
  }
}
