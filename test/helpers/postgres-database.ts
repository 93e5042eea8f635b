// A throw-away database on a PostgreSQL server, for tests, the fuzzer and benchmarks alike.
// No vitest import: bench/ runs outside the test runner.
import crypto from 'node:crypto';
import pg from 'pg';

export interface ThrowAwayDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates `<prefix>_<random>` through `adminUrl`; `drop` removes it, even with connections left open. */
export async function throwAwayPostgresDatabase(adminUrl: string, prefix = 'latchkey'): Promise<ThrowAwayDatabase> {
  const name = `${prefix}_${crypto.randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
