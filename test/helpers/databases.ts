// A fresh, empty database per test file: a SQLite file in a temporary directory, or a new
// database on the test run's PostgreSQL server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { throwAwayPostgresDatabase } from './postgres-database.ts';

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
  return throwAwayPostgresDatabase(inject('pgUrl'));
}
