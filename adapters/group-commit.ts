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
// same statements one by one would have.
//
// PostgreSQL needs none of this: its WAL writer already flushes concurrent commits from the
// pool's connections together, so there each write is its own statement (directWriter).
import type { Knex } from 'knex';
import { rowsOf } from '../server/db/knex.ts';
import type { SqliteStatements } from './sqlite-statements.ts';

export interface Writer {
  /** Runs one write statement; resolves with its RETURNING rows once it is durable. */
  write(sql: string, bindings: readonly Knex.RawBinding[]): Promise<unknown[]>;
  /** Resolves when every queued write has been committed or failed. */
  drain(): Promise<void>;
}

export function directWriter(db: Knex): Writer {
  return {
    write: async (sql, bindings) => rowsOf(await db.raw(sql, bindings as Knex.RawBinding[])),
    drain: async () => undefined,
  };
}

interface Pending {
  sql: string;
  bindings: readonly Knex.RawBinding[];
  resolve(rows: unknown[]): void;
  reject(error: unknown): void;
}

/** A bound on one transaction, so a burst never holds the database for long. */
const MAX_BATCH = 256;

export class GroupCommit implements Writer {
  readonly #db: Knex;
  readonly #maxBatch: number;
  readonly #statements: SqliteStatements | undefined;
  #queue: Pending[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  /** Batches committed and writes in them, for the benchmark and tests. */
  readonly stats = { batches: 0, writes: 0 };

  /** With `statements` (SQLite), batches run as reused prepared statements, not through Knex. */
  constructor(db: Knex, { maxBatch = MAX_BATCH, statements }: { maxBatch?: number; statements?: SqliteStatements } = {}) {
    this.#db = db;
    this.#maxBatch = maxBatch;
    this.#statements = statements;
  }

  write(sql: string, bindings: readonly Knex.RawBinding[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ sql, bindings, resolve, reject });
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
        const results = batch.length === 1 ? [await this.#single(batch[0] as Pending)] : await this.#transaction(batch);
        this.stats.batches += 1;
        this.stats.writes += batch.length;
        batch.forEach((pending, i) => pending.resolve(results[i] as unknown[]));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
  }

  async #single(pending: Pending): Promise<unknown[]> {
    if (this.#statements) return this.#statements.withConnection((execute) => execute(pending.sql, pending.bindings));
    return rowsOf(await this.#db.raw(pending.sql, pending.bindings as Knex.RawBinding[]));
  }

  async #transaction(batch: Pending[]): Promise<unknown[][]> {
    if (this.#statements) {
      return this.#statements.withConnection(async (execute) => {
        // IMMEDIATE: take the write lock now, waiting on busy_timeout if another process (the
        // CLI) holds it, rather than failing midway when a read would have to become a write.
        await execute('BEGIN IMMEDIATE', []);
        try {
          const results: unknown[][] = [];
          for (const pending of batch) results.push(await execute(pending.sql, pending.bindings));
          await execute('COMMIT', []);
          return results;
        } catch (error) {
          await execute('ROLLBACK', []).catch(() => undefined);
          throw error;
        }
      });
    }
    return this.#db.transaction(async (trx) => {
      const results: unknown[][] = [];
      for (const pending of batch) results.push(rowsOf(await trx.raw(pending.sql, pending.bindings as Knex.RawBinding[])));
      return results;
    });
  }
}
