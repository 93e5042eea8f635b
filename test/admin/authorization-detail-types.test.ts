// The admin API's `authorization_detail_types` (RFC 9396 per-document access) on SQLite and
// PostgreSQL, every answer validated against the server's own OpenAPI document: declared when a
// resource server is created, added by PATCH, listed; a schema that is not JSON Schema or a
// type another API owns is refused with the field named; a declared type is usable at once.
// A user's grants (GET /admin/v1/grants, and `latchkey grant list`) show the authorization
// details the user approved.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { AdminApiClient, adminToken } from '../helpers/admin-api.ts';
import { createJournal, detailFlow, documentDetail, DOCUMENT_SCHEMA, JOURNAL, type JournalFixtures } from '../helpers/documents.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { runCli, tempDir } from '../helpers/processes.ts';

const BOOKS = 'https://books.api.test';

describe.each(STORES)('authorization detail types in the admin API (%s)', (store) => {
  let h: Harness;
  let api: AdminApiClient;
  let token: string;

  beforeAll(async () => {
    h = await startServer({ store });
    await createFixtures(h);
    const created = await h.management.admin.clients.add({ client_name: 'Ops console', admin: true }, { via: 'cli' });
    token = await adminToken(h.issuer, created.client_id, created.client_secret as string);
    api = await AdminApiClient.load(h.issuer);
  });
  afterAll(async () => h?.close());

  it('declares a type with a new resource server, adds another by PATCH, and lists them', async () => {
    const document = { type: 'book', schema: { ...DOCUMENT_SCHEMA, properties: { ...DOCUMENT_SCHEMA.properties, type: { const: 'book' } } }, describe: 'Read {identifier}: {actions}' };
    const made = await api.call('POST', '/resources', { token, body: { id: BOOKS, scopes: [{ scope: 'books:read' }], authorization_detail_types: [document] } });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body.authorization_detail_types).toEqual([document]);

    const chapter = { type: 'chapter', schema: { type: 'object' }, describe: 'See chapter {identifier}' };
    const patched = await api.call('PATCH', `/resources/${encodeURIComponent(BOOKS)}`, { token, body: { authorization_detail_types: [chapter] } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.authorization_detail_types.map((t: { type: string }) => t.type)).toEqual(['book', 'chapter']);

    const listed = await api.call('GET', '/resources', { token });
    const all = (Array.isArray(listed.body) ? listed.body : listed.body.resources) as Array<{ id: string; authorization_detail_types: unknown[] }>;
    expect(all.find((r) => r.id === BOOKS)?.authorization_detail_types).toHaveLength(2);
    const metadata = (await (await fetch(h.url('/.well-known/openid-configuration'))).json()) as { authorization_details_types_supported: string[] };
    expect(metadata.authorization_details_types_supported.sort()).toEqual(['book', 'chapter']);
  });

  it('refuses a schema that is not JSON Schema, and a type another resource server owns', async () => {
    const bad = await api.call('PATCH', `/resources/${encodeURIComponent(BOOKS)}`, { token, body: { authorization_detail_types: [{ type: 'memo', schema: { type: 'objet' }, describe: 'A memo' }] } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('not a valid JSON Schema');
    const taken = await api.call('POST', '/resources', { token, body: { id: 'https://other.api.test', scopes: [{ scope: 'other:read' }], authorization_detail_types: [{ type: 'book', schema: { type: 'object' }, describe: 'Mine' }] } });
    expect(taken.status).toBe(409);
    expect(JSON.stringify(taken.body)).toContain(`belongs to ${BOOKS}`);
  });
});

describe.each(STORES)('authorization details of a grant in the admin API (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let j: JournalFixtures;
  let api: AdminApiClient;
  let token: string;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    j = await createJournal(h, { otherResource: CONTACTS });
    const created = await h.management.admin.clients.add({ client_name: 'Ops console', admin: true }, { via: 'cli' });
    token = await adminToken(h.issuer, created.client_id, created.client_secret as string);
    api = await AdminApiClient.load(h.issuer);
  });
  afterAll(async () => h?.close());

  it('GET /grants shows the approved documents of a grant, and none for a grant of scopes only', async () => {
    const user = await h.management.accounts.create({ email: `details-${store}@example.com`, password: 'details password 1' });
    const person = { email: user.email, password: 'details password 1' };
    // doc-7 asked with read and comment, the user leaves comment unticked; doc-8 as asked.
    await detailFlow(h, j.app, person, [documentDetail('doc-7'), documentDetail('doc-8', ['read'])], { untick: ['0:comment'] });
    await codeFlow(await confidentialClient(h, f.editor.clientId, f.editor.clientSecret), person, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });

    const listed = await api.call('GET', `/grants?user=${encodeURIComponent(person.email)}`, { token });
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    const grants = listed.body.grants as Array<{ client_id: string; scope: string; authorization_details: Array<Record<string, unknown>> }>;
    const journal = grants.find((g) => g.client_id === j.app.clientId);
    expect(journal?.authorization_details).toEqual([
      { ...documentDetail('doc-7', ['read']), locations: [JOURNAL] },
      { ...documentDetail('doc-8', ['read']), locations: [JOURNAL] },
    ]);
    expect(journal?.scope).not.toContain('journal:read');
    expect(grants.find((g) => g.client_id === f.editor.clientId)?.authorization_details).toEqual([]);

    // The CLI prints the same: --json as the API answers it, the table one cell per grant.
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'keys.json'), JSON.stringify(h.keys));
    const env = { DATABASE_URL: h.database.url, KEYS_FILE: path.join(dir, 'keys.json'), ISSUER: h.issuer };
    const json = await runCli(['grant', 'list', '--user', person.email, '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as typeof grants).find((g) => g.client_id === j.app.clientId)?.authorization_details).toEqual(journal?.authorization_details);
    const text = await runCli(['grant', 'list', '--user', person.email], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^GRANT_ID\s+CLIENT\s+SCOPES\s+DETAILS\s+EXPIRES/);
    expect(text.stdout).toContain('document:doc-7[read] document:doc-8[read]');
  });
});
