// The SQLite hot path: the adapter's few statements run as prepared statements, reused, on the
// connection Knex's pool hands out (so they queue with every other use of it, transactions
// included). Measured here: the adapter's upsert costs ~124 µs when SQLite parses it on every
// call (what Knex's raw does) and ~66 µs prepared once — and token requests run little else.
import type { Knex } from 'knex';
import type sqlite3 from 'sqlite3';

export type Execute = (sql: string, bindings: readonly Knex.RawBinding[]) => Promise<unknown[]>;

interface PoolClient {
  acquireConnection(): Promise<sqlite3.Database>;
  releaseConnection(connection: sqlite3.Database): Promise<void>;
}

/** Prepared statements kept per connection; a bounded set, since the SQL shapes are few. */
const MAX_STATEMENTS = 64;
const statementsOf = new WeakMap<sqlite3.Database, Map<string, sqlite3.Statement>>();

function prepared(connection: sqlite3.Database, sql: string): Promise<sqlite3.Statement> {
  let cache = statementsOf.get(connection);
  if (!cache) {
    cache = new Map();
    statementsOf.set(connection, cache);
  }
  const hit = cache.get(sql);
  if (hit) return Promise.resolve(hit);
  const statements = cache;
  return new Promise((resolve, reject) => {
    const statement = connection.prepare(sql, (error) => {
      if (error) return reject(error);
      statements.set(sql, statement);
      if (statements.size > MAX_STATEMENTS) {
        const [oldestSql, oldest] = statements.entries().next().value as [string, sqlite3.Statement];
        statements.delete(oldestSql);
        oldest.finalize();
      }
      resolve(statement);
    });
  });
}

/** Every row `sql` returns with `bindings`, through the connection's prepared statement. */
/** Told how long each statement took (s), for the metrics. */
export type StatementTimer = (seconds: number) => void;

async function timed<T>(onDuration: StatementTimer | undefined, run: () => Promise<T>): Promise<T> {
  if (!onDuration) return run();
  const started = performance.now();
  try {
    return await run();
  } finally {
    onDuration((performance.now() - started) / 1000);
  }
}

async function allPrepared(connection: sqlite3.Database, sql: string, bindings: readonly Knex.RawBinding[]): Promise<unknown[]> {
  const statement = await prepared(connection, sql);
  return new Promise((resolve, reject) =>
    statement.all(bindings as unknown[], (error: Error | null, rows: unknown[]) => (error ? reject(error) : resolve(rows))),
  );
}

export class SqliteStatements implements StatementRunner {
  readonly #pool: PoolClient;
  readonly #onStatement: ((sql: string) => void) | undefined;
  readonly #onDuration: StatementTimer | undefined;

  constructor(db: Knex, { onStatement, onDuration }: { onStatement?: (sql: string) => void; onDuration?: StatementTimer } = {}) {
    this.#pool = db.client as unknown as PoolClient;
    this.#onStatement = onStatement;
    this.#onDuration = onDuration;
  }

  /** Runs `work` with the pooled connection held: its statements run back to back, in order. */
  async withConnection<T>(work: (execute: Execute) => Promise<T>): Promise<T> {
    const connection = await this.#pool.acquireConnection();
    try {
      return await work((sql, bindings) => {
        this.#onStatement?.(sql);
        return timed(this.#onDuration, () => allPrepared(connection, sql, bindings));
      });
    } finally {
      await this.#pool.releaseConnection(connection);
    }
  }
}

export interface StatementRunner {
  withConnection<T>(work: (execute: Execute) => Promise<T>): Promise<T>;
}

/**
 * A read-only connection of its own for the adapter's lookups. Under WAL a reader does not wait
 * for a writer, but one connection does everything in turn: lookups queued behind a group
 * commit or a purge batch would wait out its sync. Every lookup here starts a fresh read
 * transaction, so it sees every write that has been acknowledged (writes are awaited until
 * committed before a request reads again).
 */
export class SqliteReadConnection implements StatementRunner {
  readonly #connection: sqlite3.Database;
  readonly #onStatement: ((sql: string) => void) | undefined;
  readonly #onDuration: StatementTimer | undefined;

  constructor(
    driver: typeof sqlite3,
    filename: string,
    { onStatement, onDuration, busyTimeoutMs = 5000 }: { onStatement?: (sql: string) => void; onDuration?: StatementTimer; busyTimeoutMs?: number } = {},
  ) {
    // Statements issued before the file is open wait in the driver's queue.
    this.#connection = new driver.Database(filename, driver.OPEN_READONLY);
    this.#connection.configure('busyTimeout', busyTimeoutMs);
    this.#onStatement = onStatement;
    this.#onDuration = onDuration;
  }

  async withConnection<T>(work: (execute: Execute) => Promise<T>): Promise<T> {
    return work((sql, bindings) => {
      this.#onStatement?.(sql);
      return timed(this.#onDuration, () => allPrepared(this.#connection, sql, bindings));
    });
  }

  close(): Promise<void> {
    const statements = statementsOf.get(this.#connection);
    for (const statement of statements?.values() ?? []) statement.finalize();
    statementsOf.delete(this.#connection);
    return new Promise((resolve) => this.#connection.close(() => resolve()));
  }
}
