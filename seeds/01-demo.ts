// Knex seed entry point for the demo data (`knex seed:run`); the records themselves and the
// seeding live in server/services/demo-data.ts. Keys and settings come from the environment.
import type { Knex } from 'knex';
import { loadConfig } from '../server/config/env.ts';
import { loadKeyMaterial } from '../server/config/keys.ts';
import { createManagement } from '../server/management.ts';
import { createLogger } from '../server/log.ts';
import { seedDemoData } from '../server/services/demo-data.ts';

export { DEMO } from '../server/services/demo-data.ts';

export async function seed(knex: Knex): Promise<void> {
  const config = loadConfig();
  await seedDemoData(createManagement(knex, { config, keys: loadKeyMaterial(config).material }), { keysFile: config.keysFile, log: createLogger() });
}
