// `latchkey resource add|update … --authorization-detail-type TYPE --schema FILE.json
// --detail-describe TEXT` (RFC 9396 per-document access), as an operator runs it, on SQLite and
// PostgreSQL: the type is stored with its schema and words and listed by `resource list --json`
// as `authorization_detail_types`; a schema that is not JSON Schema, a missing file or a type
// another API owns is refused with the flag named.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/processes.ts';
import { freshDatabase, STORES, type FreshDatabase } from '../helpers/databases.ts';
import { DOCUMENT_SCHEMA } from '../helpers/documents.ts';

describe.each(STORES)('resource detail types in the CLI (%s)', (store) => {
  const dir = tempDir();
  let database: FreshDatabase;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, env);
  const documentSchema = path.join(dir, 'document.json');
  const noteSchema = path.join(dir, 'note.json');

  beforeAll(async () => {
    database = await freshDatabase(store);
    env = { DATABASE_URL: database.url, KEYS_FILE: path.join(dir, 'keys.json') };
    fs.writeFileSync(documentSchema, JSON.stringify(DOCUMENT_SCHEMA));
    fs.writeFileSync(noteSchema, JSON.stringify({ type: 'object', required: ['type', 'identifier'], properties: { type: { const: 'note' }, identifier: { type: 'string' } } }));
  });
  afterAll(async () => database?.drop());

  it('adds a resource server with a type, adds another with update, and lists both', async () => {
    const added = await cli('resource', 'add', '--id', 'https://journal.api.test', '--scope', 'journal:read', '--authorization-detail-type', 'document', '--schema', documentSchema, '--detail-describe', 'Read and comment on {identifier}', '--json');
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout).authorization_detail_types).toEqual([{ type: 'document', schema: DOCUMENT_SCHEMA, describe: 'Read and comment on {identifier}' }]);

    const updated = await cli('resource', 'update', 'https://journal.api.test', '--authorization-detail-type', 'note', '--schema', noteSchema, '--detail-describe', 'See note {identifier}', '--json');
    expect(updated.code, updated.stderr).toBe(0);
    const listed = await cli('resource', 'list', '--json');
    const [journal] = JSON.parse(listed.stdout) as Array<{ authorization_detail_types: Array<{ type: string; describe: string }> }>;
    expect(journal?.authorization_detail_types.map((t) => [t.type, t.describe])).toEqual([
      ['document', 'Read and comment on {identifier}'],
      ['note', 'See note {identifier}'],
    ]);
  });

  it('refuses what cannot be a detail type, naming the flag', async () => {
    const notSchema = path.join(dir, 'not-a-schema.json');
    fs.writeFileSync(notSchema, JSON.stringify({ type: 'objet' }));
    const bad = await cli('resource', 'update', 'https://journal.api.test', '--authorization-detail-type', 'memo', '--schema', notSchema, '--detail-describe', 'A memo');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--authorization-detail-type.*not a valid JSON Schema|not a valid JSON Schema/);

    const missing = await cli('resource', 'update', 'https://journal.api.test', '--authorization-detail-type', 'memo', '--schema', path.join(dir, 'nowhere.json'), '--detail-describe', 'A memo');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('--schema');

    const alone = await cli('resource', 'update', 'https://journal.api.test', '--schema', documentSchema);
    expect(alone.code).not.toBe(0);
    expect(alone.stderr).toContain('--authorization-detail-type');

    // A type belongs to one API: another may not declare it.
    const other = await cli('resource', 'add', '--id', 'https://other.api.test', '--scope', 'other:read', '--authorization-detail-type', 'document', '--schema', documentSchema, '--detail-describe', 'Mine too');
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('belongs to https://journal.api.test');
  });
});
