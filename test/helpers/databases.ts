// A fresh, empty database per test file: a SQLite file in a temporary directory, or a new
// database on the test run's PostgreSQL server.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';

export type StoreKind = 'sqlite' | 'pg';
export const STORES: StoreKind[] = ['sqlite', 'pg'];

export interface FreshDatabase {
  url: string;
  /** The SQLite file, for tests that read it raw. */
  file?: string;
  drop(): Promise<void>;
}

export async function freshDatabase(kind: StoreKind): Promise<FreshDatabase> {
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-test-'));
    const file = path.join(dir, 'latchkey.sqlite');
    return { url: `sqlite:${file}`, file, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const adminUrl = inject('pgUrl');
  const name = `latchkey_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
