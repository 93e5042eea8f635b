// Demo data for a fresh development database: one user, one resource server (the contacts API)
// and three apps that use it. Runs automatically on the first start of an empty database
// (SEED_DEMO, on by default outside production) and by `npx latchkey seed`.
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { loadConfig, type Config } from '../server/config/env.ts';
import { loadKeyMaterial, type KeyMaterial } from '../server/config/keys.ts';
import { createManagement } from '../server/management.ts';
import { createLogger, type Logger } from '../server/log.ts';

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

export async function isDatabaseEmpty(db: Knex): Promise<boolean> {
  const [users, clients] = await Promise.all([db('users').first('id'), db('clients').whereNot('source', 'system').first('client_id')]);
  return !users && !clients;
}

export interface SeedContext {
  config: Readonly<Config>;
  keys: KeyMaterial;
  log: Logger;
}

/** Seeds the demo records that are missing; existing ones are left alone. */
export async function seedDemoData(db: Knex, { config, keys, log }: SeedContext) {
  const m = createManagement(db, { config, keys });
  const secrets: Record<string, string> = {};

  if (!(await m.accounts.findByEmail(DEMO.user.email))) {
    await m.accounts.create({ ...DEMO.user, emailVerified: true });
  }
  const catalog = await m.catalog.reload();
  for (const resource of [DEMO.contactsApi, DEMO.mcpServer]) {
    if (catalog.get(resource.id)) continue;
    const created = await m.resources.add({ ...resource, scopes: [...resource.scopes], tokenFormat: 'opaque' });
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
    // Secrets are stored sealed and cannot be read back: keep the demo ones beside the keys.
    const file = path.join(path.dirname(config.keysFile), 'demo-credentials.json');
    const previous = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>) : {};
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify({ ...previous, ...secrets }, null, 2)}\n`, { mode: 0o600 });
    log.info('demo client secrets written', { file });
  }
  return { user: DEMO.user.email, resources: [DEMO.contactsApi.id, DEMO.mcpServer.id], clients: apps.map((a) => a.clientId) };
}

/** Knex seed entry point (`knex seed:run`, `npx latchkey seed`): keys and settings from the environment. */
export async function seed(knex: Knex): Promise<void> {
  const config = loadConfig();
  await seedDemoData(knex, { config, keys: loadKeyMaterial(config).material, log: createLogger() });
}
