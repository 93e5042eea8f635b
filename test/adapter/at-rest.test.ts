// Data at rest: what a copy of the database reveals. Lookup keys are digests, payloads are sealed,
// and no raw token id, uid, user code or payload value reaches the rows, the SQLite file or its WAL.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../helpers/databases.ts';
import { rowsOf } from '../../adapters/rows.ts';
import { PAYLOAD_MODELS, openStore, payloadFor, randomId, type StoredRow, type TestStore } from './context.ts';

interface Issued {
  model: string;
  id: string;
  uid?: string;
  userCode?: string;
  marker: string;
  accountId: string;
  clientId: string;
  grantId: string;
  payload: Record<string, unknown>;
}

/**
 * Columns the adapter documents as plaintext, denormalised lookup columns (knex-adapter.ts header):
 * they may hold the payload's grantId, accountId and clientId, and nothing else.
 */
const PLAINTEXT_LOOKUP_COLUMNS = ['grant_id', 'account_id', 'client_id'] as const;

function occurrences(haystack: Buffer, needle: string): number {
  let count = 0;
  const bytes = Buffer.from(needle, 'utf8');
  for (let at = haystack.indexOf(bytes); at !== -1; at = haystack.indexOf(bytes, at + 1)) count += 1;
  return count;
}

describe.each(STORES)('data at rest (%s)', (kind) => {
  let store: TestStore;
  const issued: Issued[] = [];

  beforeAll(async () => {
    store = await openStore(kind);
    for (const model of PAYLOAD_MODELS) {
      const id = randomId();
      const marker = `MARKER-${randomId()}`;
      const accountId = `acct-${randomId().slice(0, 20)}`;
      const clientId = `cli-${randomId().slice(0, 20)}`;
      const grantId = randomId();
      const uid = model === 'Session' ? randomId() : undefined;
      const userCode = model === 'DeviceCode' ? 'QWRT-ZXCV' : undefined;
      const payload = payloadFor(model, id, { marker, accountId, clientId, grantId, uid, userCode });
      await store.adapter(model).upsert(id, payload, 3600);
      issued.push({ model, id, uid, userCode, marker, accountId, clientId, grantId, payload });
    }
    // a consumed code, too: consuming must not write anything raw either
    const code = issued.find((i) => i.model === 'AuthorizationCode');
    await store.adapter('AuthorizationCode').consume(code?.id as string);
  });
  afterAll(async () => store?.close());

  async function rowOf(item: Issued): Promise<StoredRow> {
    const rows = rowsOf<StoredRow>(
      await store.db.raw('SELECT * FROM oidc_payloads WHERE model = ? AND id = ?', [item.model, store.sealer.digest(item.id)]),
    );
    expect(rows, `${item.model} row stored under the digest of its id`).toHaveLength(1);
    return rows[0] as StoredRow;
  }

  it('the id, uid and user_code columns hold SHA-256 digests, never the raw values', async () => {
    for (const item of issued) {
      const row = await rowOf(item);
      expect(row.id).toBe(store.sealer.digest(item.id));
      expect(row.id).not.toBe(item.id);
      expect(row.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      if (item.uid) {
        expect(row.uid).toBe(store.sealer.digest(item.uid));
      } else {
        expect(row.uid).toBeNull();
      }
      if (item.userCode) {
        expect(row.user_code).toBe(store.sealer.digest(item.userCode));
      } else {
        expect(row.user_code).toBeNull();
      }
    }
  });

  it('the payload column is sealed: not JSON, and it opens only with the data key for its model and row', async () => {
    for (const item of issued) {
      const row = await rowOf(item);
      expect(row.payload).toMatch(/^v2\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+$/);
      expect(() => JSON.parse(row.payload)).toThrow();
      expect(JSON.parse(store.sealer.open(row.payload, `${item.model}:${row.id}`))).toEqual(item.payload);
    }
  });

  it('no stored row contains its raw id, uid, user code, marker or any payload string value', async () => {
    for (const item of issued) {
      const row = await rowOf(item);
      const secrets = [item.id, item.marker, item.uid, item.userCode].filter((v): v is string => typeof v === 'string');
      for (const [column, value] of Object.entries(row)) {
        const text = value === null || value === undefined ? '' : String(value);
        for (const secret of secrets) {
          expect(text.includes(secret), `${item.model}.${column} contains a raw value`).toBe(false);
        }
        // every string anywhere in the payload (scopes, redirect URIs, codeChallenge, nested ids...)
        // stays out of every column except the documented plaintext lookup columns
        if ((PLAINTEXT_LOOKUP_COLUMNS as readonly string[]).includes(column)) continue;
        for (const leaf of stringLeaves(item.payload)) {
          // short values such as "openid" are not distinctive; `kind` is the model column's own value
          if (leaf.length < 8 || leaf === item.model) continue;
          expect(text.includes(leaf), `${item.model}.${column} contains payload value ${JSON.stringify(leaf)}`).toBe(false);
        }
      }
    }
  });

  it('the plaintext lookup columns hold only the accountId and clientId of the payload; grant_id is a digest', async () => {
    for (const item of issued) {
      const row = await rowOf(item);
      const p = item.payload;
      // A grant is its own family (its tombstone hides it): its grant_id is the digest of its own id.
      const family = item.model === 'Grant' ? item.id : typeof p.grantId === 'string' ? p.grantId : undefined;
      expect(row.grant_id).toBe(family === undefined ? null : store.sealer.digest(family));
      expect(row.account_id).toBe(typeof p.accountId === 'string' ? p.accountId : null);
      expect(row.client_id).toBe(typeof p.clientId === 'string' ? p.clientId : null);
      // the Session's uid and the accountId nested in an Interaction are not denormalised in plaintext
      expect([row.grant_id, row.account_id, row.client_id]).not.toContain(item.uid ?? '\u0000');
    }
  });

  it('a whole-table dump contains no raw token id, uid, user code or marker', async () => {
    const dump = JSON.stringify(rowsOf(await store.db.raw('SELECT * FROM oidc_payloads')));
    for (const item of issued) {
      expect(dump.includes(item.id), `raw ${item.model} id in the table`).toBe(false);
      expect(dump.includes(item.marker), `${item.model} marker in the table`).toBe(false);
      if (item.uid) expect(dump.includes(item.uid)).toBe(false);
      if (item.userCode) expect(dump.includes(item.userCode)).toBe(false);
    }
  });

  if (kind === 'sqlite') {
    it('the SQLite file and its WAL hold no raw token id, uid, user code or marker', async () => {
      const file = store.file as string;
      const before = Buffer.concat(
        [file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)),
      );
      await store.db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
      const files = [file, `${file}-wal`, `${file}-journal`].filter((f) => fs.existsSync(f));
      expect(files).toContain(file);
      const bytes = Buffer.concat([before, ...files.map((f) => fs.readFileSync(f))]);
      // the data did reach the file: the digests are there
      for (const item of issued) expect(occurrences(bytes, store.sealer.digest(item.id))).toBeGreaterThan(0);
      for (const item of issued) {
        if (item.model !== 'Grant') expect(occurrences(bytes, item.id), `raw ${item.model} id on disk`).toBe(0);
        expect(occurrences(bytes, item.marker), `${item.model} marker on disk`).toBe(0);
        if (item.uid) expect(occurrences(bytes, item.uid), 'raw uid on disk').toBe(0);
        if (item.userCode) expect(occurrences(bytes, item.userCode), 'raw user code on disk').toBe(0);
      }
    });
  }

  if (kind === 'pg') {
    it('the PostgreSQL table file and WAL hold no raw token id, uid, user code or marker', async (ctx) => {
      const setting = rowsOf<{ dir: string; rel: string }>(
        await store.db.raw(
          "SELECT current_setting('data_directory') AS dir, pg_relation_filepath('oidc_payloads') AS rel",
        ),
      )[0];
      const dataDir = setting?.dir ?? '';
      if (!dataDir || !fs.existsSync(path.join(dataDir, setting?.rel ?? ''))) {
        ctx.skip(); // the server is not on this machine (TEST_DATABASE_URL_PG)
        return;
      }
      await store.db.raw('CHECKPOINT');
      const walDir = path.join(dataDir, 'pg_wal');
      const files = [
        path.join(dataDir, setting?.rel ?? ''),
        ...fs
          .readdirSync(walDir)
          .filter((f) => /^[0-9A-F]{24}$/.test(f))
          .map((f) => path.join(walDir, f)),
      ];
      const bytes = Buffer.concat(files.map((f) => fs.readFileSync(f)));
      for (const item of issued) expect(occurrences(bytes, store.sealer.digest(item.id))).toBeGreaterThan(0);
      for (const item of issued) {
        if (item.model !== 'Grant') expect(occurrences(bytes, item.id), `raw ${item.model} id on disk`).toBe(0);
        expect(occurrences(bytes, item.marker), `${item.model} marker on disk`).toBe(0);
        if (item.uid) expect(occurrences(bytes, item.uid), 'raw uid on disk').toBe(0);
        if (item.userCode) expect(occurrences(bytes, item.userCode), 'raw user code on disk').toBe(0);
      }
    });
  }
});

function stringLeaves(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringLeaves);
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, v]) => [key, ...stringLeaves(v)]);
  }
  return [];
}

describe('sealing', () => {
  it('never reuses a GCM nonce, across refills of the nonce pool, and every sealed value opens', async () => {
    const { createSealer } = await import('../../adapters/at-rest.ts');
    const { generateKeyMaterial } = await import('../../server/config/keys.ts');
    const sealer = createSealer(generateKeyMaterial().data);
    const nonces = new Set<string>();
    for (let i = 0; i < 5000; i += 1) {
      const sealed = sealer.seal('same plaintext', 'AccessToken:row');
      nonces.add(Buffer.from(sealed.split('.')[2] as string, 'base64url').subarray(0, 12).toString('hex'));
      expect(sealer.open(sealed, 'AccessToken:row')).toBe('same plaintext');
    }
    expect(nonces.size).toBe(5000);
  });
});
