// Knex factory for the two supported stores. SQLite runs in WAL mode with a busy timeout and,
// by default, synchronous=FULL: a write acknowledged to a client survives power loss.
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import fs from 'node:fs';
import path from 'node:path';
import type { DatabaseConfig } from '../config/env.ts';

// int8 columns (epoch milliseconds) come back from pg as strings unless told otherwise;
// our values stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

const BUSY_TIMEOUT_MS = 5000;
// compileSqlOnError: false (both stores): a failed statement's error message carries the SQL with
// its placeholders, not its bound values; Knex would otherwise inline them (password hashes,
// emails, addresses) into a message that ends up in the logs.

interface SqliteConnection {
  run(sql: string, callback: (error: Error | null) => void): void;
}

function runPragmas(connection: SqliteConnection, pragmas: string[], done: (error: Error | null, connection: unknown) => void) {
  const [first, ...rest] = pragmas;
  if (!first) return done(null, connection);
  connection.run(first, (error) => (error ? done(error, connection) : runPragmas(connection, rest, done)));
}

export function createDatabase(config: DatabaseConfig): Knex {
  if (config.client === 'pg') {
    return knexFactory({
      client: 'pg',
      connection: config.connectionString,
      // Each instance holds at most this many: instances × DATABASE_POOL_MAX must stay under
      // the server's max_connections (docs/deployment.md).
      pool: { min: 0, max: config.poolMax ?? 10 },
      compileSqlOnError: false,
    });
  }

  if (config.filename !== ':memory:') {
    fs.mkdirSync(path.dirname(config.filename), { recursive: true });
  }
  return knexFactory({
    client: 'sqlite3',
    connection: { filename: config.filename },
    useNullAsDefault: true,
    compileSqlOnError: false,
    // One connection: SQLite serialises writers anyway, and one connection means no
    // SQLITE_BUSY between our own requests. Other processes (the CLI) wait on busy_timeout.
    pool: {
      min: 1,
      max: 1,
      afterCreate: (connection: SqliteConnection, done: (error: Error | null, connection: unknown) => void) =>
        runPragmas(
          connection,
          [
            `PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`,
            'PRAGMA journal_mode = WAL',
            `PRAGMA synchronous = ${config.synchronous}`,
            'PRAGMA foreign_keys = ON',
            // Statement journals (how SQLite undoes one statement of a larger transaction, such
            // as a group commit's batch) in memory rather than spilled to temporary files: a
            // W3 batch's spilled some 13 % of the thread pool's time into pwrite and openat
            // (bench/README.md). They never serve crash recovery, so durability is unchanged.
            'PRAGMA temp_store = MEMORY',
          ],
          done,
        ),
    },
  });
}

