// `latchkey`: the operator CLI. Every command honours DATABASE_URL (and the other server
// settings) and takes --json for machine-readable output; bad arguments print usage and exit 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig } from '../server/config/env.ts';
import { generateKeyMaterial, loadKeyMaterial, writeKeyFile, type KeyDescription } from '../server/config/keys.ts';
import { createDatabase } from '../server/db/knex.ts';
import { checkKeyPairing } from '../server/services/key-pairing.ts';
import { migrateToLatest } from '../adapters/migrations/index.ts';
import { createManagement, type Management } from '../server/management.ts';
import { createLogger } from '../server/log.ts';
import { ServiceError } from '../server/services/errors.ts';
import { seedDemoData } from '../server/services/demo-data.ts';
import { createOutput, UsageError, type Output } from './output.ts';
import * as commands from './commands.ts';
import type { CommandContext, Values } from './commands.ts';
import type { Config } from '../server/config/env.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What a command runs with: the administration operations, plus the raw pieces seeding needs. */
interface RunContext extends CommandContext {
  config: Readonly<Config>;
  management: Management;
}

interface Command {
  usage: string;
  options: Options;
  /** Takes one positional argument (an id). */
  positional?: boolean;
  run: (values: Values, ctx: RunContext, id?: string) => Promise<void>;
}

const json = { json: { type: 'boolean' } } as const;

/** What `resource add` and `resource update` both set: who may use the API and how (docs/cli.md). */
const resourcePolicyOptions = {
  'default-scope': { type: 'string' },
  'may-exchange-for': { type: 'string', multiple: true },
  'status-list-ttl': { type: 'string' },
  'require-passkey-for': { type: 'string' },
  'authorization-detail-type': { type: 'string' },
  schema: { type: 'string' },
  'detail-describe': { type: 'string' },
} as const;

const COMMANDS: Record<string, Command> = {
  migrate: {
    usage: 'migrate',
    options: json,
    run: async (_v, { out }) => out.result({ migrated: true }, 'database is at the latest schema'),
  },
  seed: {
    usage: 'seed',
    options: json,
    run: async (_v, { management, config, out }) => {
      const summary = await seedDemoData(management, { keysFile: config.keysFile, log: createLogger({ quiet: out.json }) });
      out.result(summary, `demo data present: user ${summary.user}, resources ${summary.resources.join(", ")}, clients ${summary.clients.join(', ')}`);
    },
  },
  'user add': {
    usage: 'user add --email E --password P [--name N] [--email-verified]',
    options: { ...json, email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' }, 'email-verified': { type: 'boolean' } },
    run: commands.userAdd,
  },
  'user list': { usage: 'user list [--email E]', options: { ...json, email: { type: 'string' } }, run: commands.userList },
  'user disable': {
    usage: 'user disable EMAIL [--enable]',
    options: { ...json, enable: { type: 'boolean' } },
    positional: true,
    run: commands.userDisable,
  },
  'client add': {
    usage:
      'client add --name N --redirect-uri U [--redirect-uri U2] [--public] [--native] [--scope "S1 S2"] [--resource R]... ' +
      '[--grant-types "authorization_code refresh_token client_credentials"] [--logo-uri U] [--client-uri U] [--policy-uri U] [--tos-uri U] ' +
      '[--dpop-bound] [--require-par]\n' +
      '  latchkey client add --admin --name N [--scope latchkey:admin.read]   (a client of the admin API)',
    options: {
      ...json,
      admin: { type: 'boolean' },
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      public: { type: 'boolean' },
      native: { type: 'boolean' },
      scope: { type: 'string' },
      resource: { type: 'string', multiple: true },
      'grant-types': { type: 'string' },
      'logo-uri': { type: 'string' },
      'client-uri': { type: 'string' },
      'policy-uri': { type: 'string' },
      'tos-uri': { type: 'string' },
      'dpop-bound': { type: 'boolean' },
      'require-par': { type: 'boolean' },
    },
    run: commands.clientAdd,
  },
  'client list': { usage: 'client list', options: json, run: commands.clientList },
  'client remove': { usage: 'client remove CLIENT_ID', options: json, positional: true, run: commands.clientRemove },
  'client verify': {
    usage: 'client verify CLIENT_ID [--unverify]',
    options: { ...json, unverify: { type: 'boolean' } },
    positional: true,
    run: commands.clientVerify,
  },
  'resource add': {
    usage:
      'resource add --id URI --scope "a b" [--name N] [--format opaque|jwt] [--ttl SECONDS] [--max-grant-duration SECONDS] ' +
      '[--describe "a=Plain words"]... [--dynamic-clients] [--default-scope "a"] [--may-exchange-for DOWNSTREAM_URI]... [--status-list-ttl SECONDS] [--require-passkey-for "a b"] ' +
      '[--authorization-detail-type TYPE --schema FILE.json --detail-describe "Read {identifier}"]',
    options: {
      ...json,
      id: { type: 'string' },
      scope: { type: 'string' },
      name: { type: 'string' },
      format: { type: 'string' },
      ttl: { type: 'string' },
      'max-grant-duration': { type: 'string' },
      describe: { type: 'string', multiple: true },
      'dynamic-clients': { type: 'boolean' },
      ...resourcePolicyOptions,
    },
    run: commands.resourceAdd,
  },
  'resource update': {
    usage:
      'resource update RESOURCE_URI [--dynamic-clients true|false] [--default-scope "a b"] [--may-exchange-for DOWNSTREAM_URI]... [--status-list-ttl SECONDS] [--require-passkey-for "a b"] ' +
      '[--authorization-detail-type TYPE --schema FILE.json --detail-describe "Read {identifier}"]',
    options: {
      ...json,
      'dynamic-clients': { type: 'string' },
      ...resourcePolicyOptions,
    },
    positional: true,
    run: commands.resourceUpdate,
  },
  'resource list': { usage: 'resource list', options: json, run: commands.resourceList },
  'resource remove': { usage: 'resource remove RESOURCE_URI', options: json, positional: true, run: commands.resourceRemove },
  'grant list': {
    usage: 'grant list --user EMAIL',
    options: { ...json, user: { type: 'string' } },
    run: commands.grantList,
  },
  'grant revoke': { usage: 'grant revoke GRANT_ID', options: json, positional: true, run: commands.grantRevoke },
  audit: {
    usage: 'audit [--user EMAIL] [--client ID] [--event NAME] [--limit N] [--before EVENT_ID]',
    options: { ...json, user: { type: 'string' }, client: { type: 'string' }, event: { type: 'string' }, limit: { type: 'string' }, before: { type: 'string' } },
    run: commands.auditList,
  },
  'initial-access-token create': {
    usage: 'initial-access-token create [--ttl SECONDS]',
    options: { ...json, ttl: { type: 'string' } },
    run: commands.initialAccessTokenCreate,
  },
};

function usage(): string {
  return [
    'usage: latchkey <command> [options] [--json]',
    '',
    ...Object.values(COMMANDS).map((c) => `  latchkey ${c.usage}`),
    '  latchkey keys init [--file PATH]   (write new key material for production)',
    '  latchkey keys list                 (with how many stored values each data key seals)',
    '  latchkey keys rotate [--signing-only | --cookies-only | --data]',
    '  latchkey keys prune                (drop retired data keys that seal nothing)',
    '',
    'Settings come from the environment (DATABASE_URL, KEYS_FILE, LATCHKEY_KEYS, ISSUER...); see docs/configuration.md.',
  ].join('\n');
}

function findCommand(argv: string[]): { name: string; command: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = COMMANDS[name];
    if (command) return { name, command, rest: argv.slice(words) };
  }
  return undefined;
}

function keyLines(keys: KeyDescription[]): string[] {
  return keys.map((k) => `${k.kind.padEnd(8)} ${k.id.padEnd(20)} ${k.status}${k.retired_at ? ` (since ${k.retired_at})` : ''}${k.sealed_rows === undefined ? '' : `, seals ${k.sealed_rows} stored values`}`);
}

/**
 * Signing and cookie keys live in the database (every instance picks a rotation up within
 * KEYS_POLL_SECONDS); the data key lives in KEYS_FILE, and a retired one stays there until the
 * servers have resealed everything it sealed: `keys rotate` and `keys prune` drop it then.
 */
async function keysCommand(action: string | undefined, rest: string[]) {
  const { values } = parseArgs({
    args: rest,
    options: { json: { type: 'boolean' }, 'signing-only': { type: 'boolean' }, 'cookies-only': { type: 'boolean' }, data: { type: 'boolean' } },
    strict: true,
  });
  if (action !== 'list' && action !== 'rotate' && action !== 'prune') throw new UsageError(`unknown keys command: ${action ?? ''}`);
  const chosen = [values['signing-only'], values['cookies-only'], values.data].filter(Boolean).length;
  if (chosen > 1) throw new UsageError('choose one of --signing-only, --cookies-only and --data');
  await withAdministration(values.json === true, async ({ admin, config, out }) => {
    if (action === 'list') {
      const { keys } = await admin.credentials.listKeys();
      out.result(keys, keyLines(keys));
      return;
    }
    const { keys, dropped } =
      action === 'rotate'
        ? await admin.credentials.rotateKeys({ signing: values['cookies-only'] !== true, cookies: values['signing-only'] !== true, data: values.data === true }, { via: 'cli' })
        : await admin.credentials.prune();
    const done =
      action === 'prune'
        ? `pruned keys in ${config.keysFile}`
        : values.data
          ? `rotated the data key in ${config.keysFile}; running servers pick it up within seconds and reseal in the background`
          : `rotated keys in the database; every running server picks them up within ${config.keysPollSeconds} s`;
    const droppedLine = dropped.length ? [`dropped retired data keys that seal nothing: ${dropped.join(', ')}`] : [];
    out.result(keys, [done, ...droppedLine, ...keyLines(keys)]);
  });
}

function keysInit(rest: string[]) {
  const { values } = parseArgs({ args: rest, options: { file: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const file = values.file ?? process.env.KEYS_FILE ?? 'data/keys.json';
  writeKeyFile(file, generateKeyMaterial(), { exclusive: true });
  createOutput(values.json === true).result({ keys_file: file }, `wrote new key material to ${file} (mode 0600); keep it secret and backed up`);
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    console.log(usage());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === 'keys' && argv[1] === 'init') {
    keysInit(argv.slice(2));
    return 0;
  }
  if (argv[0] === 'keys') {
    await keysCommand(argv[1], argv.slice(2));
    return 0;
  }
  const found = findCommand(argv);
  if (!found) throw new UsageError(`unknown command: ${argv.slice(0, 2).join(' ')}`);
  // Ids are base64url and may begin with '-' (a grant id such as "-hQ3…"): for a command that
  // takes one, such an argument is the id, not an unknown short option.
  // Our options are all long (--name); they stay before the '--' that marks the id.
  const looksLikeId = (arg: string) => found.command.positional === true && /^-[^-]./.test(arg);
  const ids = found.rest.filter(looksLikeId);
  const args = ids.length ? [...found.rest.filter((arg) => !looksLikeId(arg)), '--', ...ids] : found.rest;
  const { values, positionals } = parseArgs({ args, options: found.command.options, strict: true, allowPositionals: true });
  if (positionals.length > (found.command.positional ? 1 : 0)) throw new UsageError(`unexpected argument: ${positionals.join(' ')}`);

  await withAdministration(values.json === true, (ctx) => found.command.run(values as Values, ctx, positionals[0]));
  return 0;
}

/**
 * Opens the database (migrated, its data key checked against KEYS_FILE/LATCHKEY_KEYS), runs the
 * work with the administration operations (no HTTP app, no listener), and closes it all,
 * pending audit writes included.
 */
async function withAdministration(json: boolean, work: (ctx: RunContext & { out: Output }) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const keys = loadKeyMaterial(config).material;
  const db = createDatabase(config.database);
  try {
    await migrateToLatest(db);
    await checkKeyPairing(db, keys, config.keysJson ? 'LATCHKEY_KEYS' : config.keysFile);
    const management = createManagement(db, { config, keys, log: createLogger({ quiet: json }) });
    await work({ admin: management.admin, out: createOutput(json), config, management });
    await management.audit.idle();
  } finally {
    await db.destroy();
  }
}

const USER_ERRORS = new Set(['ConfigError']);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error & { code?: string }) => {
    // Naming something that does not exist is a bad argument, as it always was (exit 2).
    if (error instanceof UsageError || error.code?.startsWith('ERR_PARSE_ARGS') || (error instanceof ServiceError && error.reason === 'not_found')) {
      console.error(`latchkey: ${error.message}\n\n${usage()}`);
      process.exit(2);
    }
    if (error instanceof ServiceError) {
      console.error(`latchkey: ${error.message}${error.field ? ` (${commands.flagFor(error.field)})` : ''}`);
      process.exit(1);
    }
    if (USER_ERRORS.has(error.name) || error instanceof ConfigError) {
      console.error(`latchkey: ${error.message}`);
      process.exit(1);
    }
    console.error('latchkey: unexpected failure:', error);
    process.exit(1);
  },
);
