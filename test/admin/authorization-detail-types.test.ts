// The admin API's `authorization_detail_types` (RFC 9396 per-document access) on SQLite and
// PostgreSQL, every answer validated against the server's own OpenAPI document: declared when a
// resource server is created, added by PATCH, listed; a schema that is not JSON Schema or a
// type another API owns is refused with the field named; a declared type is usable at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { AdminApiClient, adminToken } from '../helpers/admin-api.ts';
import { DOCUMENT_SCHEMA } from '../helpers/documents.ts';

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
