// The demo records for a fresh development database: one user, two resource servers (the contacts
// API and the demo MCP server) and three apps. Seeded on the first start of an empty database
// (SEED_DEMO, on by default outside production; server/bootstrap.ts) and by `npx latchkey seed`
// (seeds/01-demo.ts). Written through the operator services, like anything an operator makes.
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Accounts } from './accounts.ts';
import type { ClientAdmin } from './clients.ts';
import type { ResourceCatalog } from './resources.ts';
import type { ResourceAdmin } from './resource-admin.ts';
import type { ClientStore } from '../../adapters/client-store.ts';
import type { Logger } from '../log.ts';

export const DEMO = {
  user: { email: 'alice@example.com', password: 'latchkey-demo', name: 'Alice Example' },
  contactsApi: {
    id: 'https://contacts-api.example',
    name: 'Contacts API',
    introspectionClientId: 'contacts-api',
    scopes: [
      { scope: 'contacts:read', description: 'Read your contacts — read-only' },
      { scope: 'contacts:write', description: 'Add, change and delete your contacts' },
    ],
  },
  // The demo MCP server (npm run demo:mcp): its own audience, the same scope names, open to
  // self-registered and metadata-document clients (MCP agents register themselves).
  mcpServer: {
    id: 'http://localhost:4100/mcp',
    name: 'Contacts MCP server',
    introspectionClientId: 'contacts-mcp',
    dynamicClients: true,
    scopes: [
      { scope: 'contacts:read', description: 'List your contacts' },
      { scope: 'contacts:write', description: 'Add contacts' },
    ],
  },
  reader: {
    clientId: 'contacts-reader',
    name: 'Contacts Reader',
    redirectUris: ['http://localhost:8080/callback', 'http://127.0.0.1:8080/callback'],
    scope: 'openid profile email offline_access contacts:read',
    clientUri: 'https://reader.example/',
    policyUri: 'https://reader.example/privacy',
  },
  spa: {
    clientId: 'contacts-spa',
    name: 'Contacts Web (public client)',
    redirectUris: ['http://localhost:8080/spa/callback', 'http://127.0.0.1:8080/spa/callback'],
    scope: 'openid profile offline_access contacts:read contacts:write',
  },
  sync: {
    clientId: 'contacts-sync',
    name: 'Contacts Nightly Sync (service)',
    scope: 'contacts:read',
  },
} as const;

/**
 * Per-contact access (RFC 9396): an app may ask to read one contact,
 * `authorization_details=[{"type":"contact","identifier":"ID","actions":["read"]}]`; the demo
 * contacts API (demo/contacts-api/) lets such a token read that contact and no other.
 */
export const CONTACT_DETAIL_TYPE = {
  type: 'contact',
  schema: {
    type: 'object',
    required: ['type', 'identifier', 'actions'],
    properties: {
      type: { const: 'contact' },
      identifier: { type: 'string', minLength: 1, maxLength: 100 },
      name: { type: 'string', maxLength: 200 },
      actions: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['read'] } },
    },
    additionalProperties: false,
  },
  describe: 'See your contact {name} ({identifier}): {actions}',
};

export async function isDatabaseEmpty(db: Knex): Promise<boolean> {
  const [users, clients] = await Promise.all([db('users').first('id'), db('clients').whereNot('source', 'system').first('client_id')]);
  return !users && !clients;
}

export interface DemoServices {
  accounts: Accounts;
  catalog: ResourceCatalog;
  resources: ResourceAdmin;
  clients: ClientAdmin;
  store: ClientStore;
}

/**
 * Seeds the demo records that are missing; existing ones are left alone. The demo clients'
 * secrets are stored sealed and cannot be read back, so they are written beside the key file
 * (demo-credentials.json, mode 0600).
 */
export async function seedDemoData(m: DemoServices, { keysFile, log }: { keysFile: string; log: Pick<Logger, 'info'> }) {
  const secrets: Record<string, string> = {};

  if (!(await m.accounts.findByEmail(DEMO.user.email))) {
    await m.accounts.create({ ...DEMO.user, emailVerified: true });
  }
  const catalog = await m.catalog.reload();
  for (const resource of [DEMO.contactsApi, DEMO.mcpServer]) {
    if (catalog.get(resource.id)) continue;
    const detailTypes = resource.id === DEMO.contactsApi.id ? { authorizationDetailTypes: [CONTACT_DETAIL_TYPE] } : {};
    const created = await m.resources.add({ ...resource, scopes: [...resource.scopes], tokenFormat: 'opaque', ...detailTypes });
    secrets[created.clientId] = created.clientSecret;
  }
  const apps = [
    { ...DEMO.reader, redirectUris: [...DEMO.reader.redirectUris], resources: [DEMO.contactsApi.id] },
    { ...DEMO.spa, redirectUris: [...DEMO.spa.redirectUris], public: true, resources: [DEMO.contactsApi.id] },
    { ...DEMO.sync, grantTypes: ['client_credentials' as const], resources: [DEMO.contactsApi.id] },
  ];
  for (const app of apps) {
    if (await m.store.get(app.clientId)) continue;
    const created = await m.clients.add({ ...app, source: 'seed' });
    if (created.clientSecret) secrets[created.clientId] = created.clientSecret;
  }

  if (Object.keys(secrets).length) {
    const file = path.join(path.dirname(keysFile), 'demo-credentials.json');
    const previous = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>) : {};
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify({ ...previous, ...secrets }, null, 2)}\n`, { mode: 0o600 });
    log.info('demo client secrets written', { file });
  }
  return { user: DEMO.user.email, resources: [DEMO.contactsApi.id, DEMO.mcpServer.id], clients: apps.map((a) => a.clientId) };
}
