// T38 database unavailable or busy. While the database cannot take a write, /token answers
// server_error without internal details and issues nothing; /health/ready reports it when the
// database cannot be reached; service resumes by itself once the database is back. Under many
// concurrent writers (SQLite busy timeout), nothing fails at all.
import sqlite3 from 'sqlite3';
import pg from 'pg';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, type Fixtures } from '../helpers/fixtures.ts';
import { tokenRequest } from '../helpers/token-requests.ts';

const STACK = /\bat \S+ \(|node_modules|SQLITE|knex|\.ts:\d+/;

describe('T38 SQLite: a writer holding the database past the busy timeout', () => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store: 'sqlite' });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('answers server_error without details, then recovers without a restart', async () => {
    const service = { id: f.service.clientId, secret: f.service.clientSecret };
    expect((await tokenRequest(h.issuer, service, { grant_type: 'client_credentials', scope: 'contacts:read' })).status).toBe(200);

    const locker = new sqlite3.Database(h.database.file as string);
    await new Promise<void>((resolve, reject) => locker.exec('BEGIN EXCLUSIVE', (e) => (e ? reject(e) : resolve())));
    try {
      const started = Date.now();
      const blocked = await fetch(h.url('/token'), {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${service.id}:${service.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials&scope=contacts:read',
      });
      const text = await blocked.text();
      expect(blocked.status).toBeGreaterThanOrEqual(500);
      expect(JSON.parse(text)).toMatchObject({ error: 'server_error' });
      expect(text).not.toMatch(STACK);
      expect(Date.now() - started).toBeGreaterThanOrEqual(4000); // it waited for the busy timeout first
    } finally {
      await new Promise<void>((resolve) => locker.exec('ROLLBACK', () => locker.close(() => resolve())));
    }
    expect((await tokenRequest(h.issuer, service, { grant_type: 'client_credentials', scope: 'contacts:read' })).status).toBe(200);
  });

  it('32 concurrent writers across two instances on one file: no errors', async () => {
    const second = await startServer({ store: 'sqlite', sameDatabaseAs: h, env: { ISSUER: h.issuer } });
    try {
      const service = { id: f.service.clientId, secret: f.service.clientSecret };
      const results = await Promise.all(
        Array.from({ length: 32 }, (_, i) => tokenRequest(i % 2 ? second.url('') : h.issuer, service, { grant_type: 'client_credentials', scope: 'contacts:read' })),
      );
      expect(results.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    } finally {
      await second.close();
    }
  });
});

describe('T38 PostgreSQL: the database refuses connections', () => {
  let h: Harness;
  let f: Fixtures;
  let admin: pg.Client;
  let name: string;

  beforeAll(async () => {
    h = await startServer({ store: 'pg' });
    f = await createFixtures(h);
    admin = new pg.Client({ connectionString: inject('pgUrl') });
    await admin.connect();
    name = new URL(h.database.url).pathname.slice(1);
  });
  afterAll(async () => {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.end();
    await h?.close();
  });

  it('answers server_error and not-ready while down, and recovers by itself', async () => {
    const service = { id: f.service.clientId, secret: f.service.clientSecret };
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);

    const down = await fetch(h.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${service.id}:${service.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=contacts:read',
    });
    const text = await down.text();
    expect(down.status).toBeGreaterThanOrEqual(500);
    expect(text).not.toMatch(STACK);
    const ready = await fetch(h.url('/health/ready'));
    expect(ready.status).toBe(503);
    expect((await fetch(h.url('/health/live'))).status).toBe(200);

    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (await tokenRequest(h.issuer, service, { grant_type: 'client_credentials', scope: 'contacts:read' })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(200);
    expect((await fetch(h.url('/health/ready'))).status).toBe(200);
  });
});
