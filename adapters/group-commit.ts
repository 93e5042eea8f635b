// How the payload adapter's writes reach the database.
//
// SQLite with synchronous=FULL syncs the WAL on every commit, so one autocommit statement per
// token caps a server at a few thousand writes a second whatever the CPU. Group commit queues
// the writes that arrive together (token inserts, consumes, grant updates, tombstones) and
// commits them in one transaction: one sync for the batch. Each caller is answered only after
// its batch has committed, so an acknowledged write is still a durable one; if the batch fails,
// every write in it fails (the provider answers those requests with server_error) and nothing
// of it is visible. How a batch is ordered and grouped into statements is write-plan.ts.
//
// A unit (writeAll) is several writes of one request that stand or fall together: a refresh's
// consume, its new tokens and its grace record. They run in order in one transaction, and the
// first refused write ends the unit: what follows it is not written.
//
// On PostgreSQL the same batches run in one transaction through Knex's pool: its WAL writer
// would flush concurrent commits together anyway, but one multi-row statement per batch
// instead of one round trip per write is what pays there. Two instances' batches can deadlock
// on rows both touch (the same token presented to both at once); PostgreSQL then aborts one,
// and that batch is run once more before its writes fail.
import type { Knex } from 'knex';
import { isPostgres, rowsOf } from './rows.ts';
import type { Execute, SqliteStatements } from './sqlite-statements.ts';
import { plan, runPlan, type Dialect, type Outcome, type Write } from './write-plan.ts';

export type { Write } from './write-plan.ts';

export interface Writer {
  /** Runs one write; resolves with its RETURNING rows once durable, rejects with its refusal. */
  write(write: Write): Promise<unknown[]>;
  /** Runs `writes` in order in one transaction; the first refusal ends them and rejects. */
  writeAll(writes: readonly Write[]): Promise<void>;
  /** Resolves when every queued write has been committed or failed. */
  drain(): Promise<void>;
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

/** PostgreSQL aborted the transaction to break a deadlock or a serialization conflict. */
function isRetryableAbort(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

export function directWriter(db: Knex): Writer {
  const dialect = dialectOf(db);
  return {
    write: async (write) => settle((await runPlan(plan([[write]]), 1, knexExecute(db), dialect))[0] as Outcome),
    writeAll: async (writes) => {
      const groups = plan([writes]);
      const [outcome] = await db.transaction((trx) => runPlan(groups, 1, knexExecute(trx), dialect));
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

  readonly #onBatch: ((size: number) => void) | undefined;

  /**
   * With `statements` (SQLite), batches run as reused prepared statements, not through Knex.
   * `onBatch` is told the size of every committed batch (the metrics).
   */
  constructor(db: Knex, { maxBatch = MAX_BATCH, statements, onBatch }: { maxBatch?: number; statements?: SqliteStatements; onBatch?: (size: number) => void } = {}) {
    this.#db = db;
    this.#dialect = dialectOf(db);
    this.#maxBatch = maxBatch;
    this.#statements = statements;
    this.#onBatch = onBatch;
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
      const owners = batch.map((pending) => pending.writes);
      try {
        const outcomes = await this.#commit(owners).catch((error: unknown) => {
          // Rolled back whole, so running it again is exactly as if it had not run.
          if (isRetryableAbort(error)) return this.#commit(owners);
          throw error;
        });
        this.stats.batches += 1;
        this.stats.writes += batch.length;
        this.#onBatch?.(batch.length);
        batch.forEach((pending, i) => pending.resolve(outcomes[i] as Outcome));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
  }

  async #commit(owners: ReadonlyArray<readonly Write[]>): Promise<Outcome[]> {
    const groups = plan(owners);
    const run = (execute: Execute) => runPlan(groups, owners.length, execute, this.#dialect);
    // One statement is atomic on its own: no BEGIN and COMMIT around it (the usual W1 batch).
    const alone = groups.length === 1;
    if (!this.#statements) {
      if (alone) return run(knexExecute(this.#db));
      return this.#db.transaction((trx) => run(knexExecute(trx)));
    }
    return this.#statements.withConnection(async (execute) => {
      if (alone) return run(execute);
      // IMMEDIATE: take the write lock now, waiting on busy_timeout if another process (the
      // CLI) holds it, rather than failing midway when a read would have to become a write.
      await execute('BEGIN IMMEDIATE', []);
      try {
        const outcomes = await run(execute);
        await execute('COMMIT', []);
        return outcomes;
      } catch (error) {
        await execute('ROLLBACK', []).catch(() => undefined);
        throw error;
      }
    });
  }
}
