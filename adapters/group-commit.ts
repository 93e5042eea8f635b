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
// same statements one by one would have. Consecutive upserts, and consecutive consumes, go in
// one multi-row statement (payload-upsert.ts, payload-consume.ts), each row still checked on
// its own. When no two writes of a batch touch the same row (the usual case: every request
// its own tokens), order cannot change what they decide, and the batch runs in waves: every
// request's consume in one statement, then every request's new rows in one.
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
import { consumeStatement, type ConsumeRow } from './payload-consume.ts';
import { REVOKED } from './payload-reader.ts';
import { rowKey, upsertStatement, type UpsertRow } from './payload-upsert.ts';
import type { Execute, SqliteStatements } from './sqlite-statements.ts';

/** One write: a statement, a row of the payload table's upsert, or a conditional consume. */
export type Write = (
  | { sql: string; bindings: readonly Knex.RawBinding[] }
  | {
      upsert: UpsertRow;
      /** The grant whose tombstone refuses this row (default: its own grant_id). */
      guard?: string | null;
    }
  | { consume: ConsumeRow }
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

/** A bound on one multi-row statement: few statement shapes to prepare, modest bindings. */
const MAX_ROWS = 64;

interface Outcome {
  rows: unknown[][];
  refusal?: Error;
}

type Kind = 'sql' | 'upsert' | 'consume';

function kindOf(write: Write): Kind {
  return 'upsert' in write ? 'upsert' : 'consume' in write ? 'consume' : 'sql';
}

/** The payload row an upsert or consume touches; undefined for a statement. */
function keyOf(write: Write): string | undefined {
  if ('upsert' in write) return rowKey(write.upsert[0], write.upsert[1]);
  if ('consume' in write) return rowKey(write.consume[0], write.consume[1]);
  return undefined;
}

interface Step {
  owner: number;
  write: Write;
}

/** Consecutive steps of one kind that run as one statement. */
interface Group {
  kind: Kind;
  steps: Step[];
}

/**
 * Whether the owners' writes commute: upserts and consumes only, each touching a row no other
 * write touches, and no tombstone among them (an upsert's guard reads tombstones). Then every
 * order of them decides the same, and they can be run wave by wave.
 */
function commute(owners: ReadonlyArray<readonly Write[]>): boolean {
  const keys = new Set<string>();
  for (const writes of owners) {
    for (const write of writes) {
      const key = keyOf(write);
      if (key === undefined || keys.has(key)) return false;
      if ('upsert' in write && write.upsert[0] === REVOKED) return false;
      keys.add(key);
    }
  }
  return true;
}

/**
 * The steps in the order they run. As they arrived, each owner's writes in turn; or, when the
 * writes commute, in waves: every owner's first run of like writes (a refresh's consume), then
 * every owner's next (its tokens and grace record), so that each wave is a statement or two
 * for the whole batch rather than two per request.
 */
function orderSteps(owners: ReadonlyArray<readonly Write[]>): Step[] {
  if (!commute(owners)) return owners.flatMap((writes, owner) => writes.map((write) => ({ owner, write })));
  const runs = owners.map((writes) => {
    const split: Write[][] = [];
    for (const write of writes) {
      const last = split[split.length - 1];
      if (last && kindOf(last[0] as Write) === kindOf(write)) last.push(write);
      else split.push([write]);
    }
    return split;
  });
  const steps: Step[] = [];
  for (let wave = 0; ; wave += 1) {
    const consumes: Step[] = [];
    const upserts: Step[] = [];
    runs.forEach((ownerRuns, owner) => {
      for (const write of ownerRuns[wave] ?? []) ('consume' in write ? consumes : upserts).push({ owner, write });
    });
    if (consumes.length === 0 && upserts.length === 0) return steps;
    steps.push(...consumes, ...upserts);
  }
}

/**
 * Consecutive upserts, or consecutive consumes, become one statement: distinct rows only (one
 * statement may not touch a row twice), and at most one consume per owner, so that an owner's
 * refused consume still stops what it writes next.
 */
function plan(owners: ReadonlyArray<readonly Write[]>): Group[] {
  const groups: Group[] = [];
  let current: Group | undefined;
  const keys = new Set<string>();
  const ownersIn = new Set<number>();
  for (const step of orderSteps(owners)) {
    const kind = kindOf(step.write);
    const key = keyOf(step.write);
    const joins =
      current !== undefined &&
      kind !== 'sql' &&
      current.kind === kind &&
      current.steps.length < MAX_ROWS &&
      !keys.has(key as string) &&
      (kind === 'upsert' || !ownersIn.has(step.owner));
    if (!joins) {
      current = { kind, steps: [] };
      groups.push(current);
      keys.clear();
      ownersIn.clear();
    }
    (current as Group).steps.push(step);
    if (key !== undefined) keys.add(key);
    ownersIn.add(step.owner);
  }
  return groups;
}

/** Runs the planned statements in order; an owner's writes stop at its first refusal. */
async function runPlan(groups: readonly Group[], ownerCount: number, execute: Execute, dialect: Dialect): Promise<Outcome[]> {
  const outcomes: Outcome[] = Array.from({ length: ownerCount }, () => ({ rows: [] }));
  for (const group of groups) {
    const live = group.steps.filter((step) => !outcomes[step.owner]?.refusal);
    if (live.length === 0) continue;
    const first = live[0] as Step;
    if ('sql' in first.write) {
      const outcome = outcomes[first.owner] as Outcome;
      const rows = await execute(first.write.sql, first.write.bindings);
      outcome.rows.push(rows);
      if (rows.length === 0 && first.write.refusal) outcome.refusal = first.write.refusal();
      continue;
    }
    const { sql, bindings } =
      group.kind === 'upsert'
        ? upsertStatement(
            live.map(({ write }) => (write as { upsert: UpsertRow }).upsert),
            live.map(({ write }) => {
              const { upsert, guard } = write as { upsert: UpsertRow; guard?: string | null };
              return guard === undefined ? upsert[3] : guard;
            }),
            dialect,
          )
        : consumeStatement(live.map(({ write }) => (write as { consume: ConsumeRow }).consume));
    const done = new Set((await execute(sql, bindings)).map((row) => rowKey((row as { model: string }).model, (row as { id: string }).id)));
    for (const { owner, write } of live) {
      const outcome = outcomes[owner] as Outcome;
      const [model, id] = 'upsert' in write ? write.upsert : (write as { consume: ConsumeRow }).consume;
      const ok = done.has(rowKey(model, id));
      outcome.rows.push(ok ? [{ model, id }] : []);
      if (!ok && write.refusal && !outcome.refusal) outcome.refusal = write.refusal();
    }
  }
  return outcomes;
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
