// Entry point: `npm run demo:contacts-api`, next to a running Latchkey (`npm start`).
//
//   PORT                        default 4000
//   ISSUER                      default http://localhost:3000 (the Latchkey server)
//   CONTACTS_RESOURCE           default https://contacts-api.example (must equal the tokens' aud)
//   CONTACTS_API_CLIENT_ID      default contacts-api
//   CONTACTS_API_CLIENT_SECRET  default: the "contacts-api" entry of data/demo-credentials.json,
//                               which the demo seed writes next to KEYS_FILE
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createContactsApi } from './app.ts';
import { probeIntrospection, type TokenCheckOptions } from './token-check.ts';

class StartupError extends Error {}

function readPort(raw: string | undefined): number {
  const value = raw?.trim() || '4000';
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new StartupError(`PORT must be a number from 0 to 65535, got ${JSON.stringify(raw)}`);
  return port;
}

function readIssuer(raw: string | undefined): string {
  const value = (raw?.trim() || 'http://localhost:3000').replace(/\/+$/, '');
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new StartupError(`ISSUER must be the Latchkey server's http(s) URL (its issuer identifier), got ${JSON.stringify(raw)}`);
  }
  return value;
}

function readResource(raw: string | undefined): string {
  const value = raw?.trim() || 'https://contacts-api.example';
  // Compared byte for byte with the tokens' `aud`, so no normalising here (RFC 8707 §2).
  if (!URL.parse(value) || value.includes('#')) {
    throw new StartupError(`CONTACTS_RESOURCE must be an absolute URI without a fragment, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function readSecret(env: NodeJS.ProcessEnv, clientId: string): string {
  const fromEnv = env.CONTACTS_API_CLIENT_SECRET?.trim();
  if (fromEnv) return fromEnv;
  // Where seeds/01-demo.ts writes the demo secrets: beside the keys file.
  const file = path.resolve(path.dirname(env.KEYS_FILE?.trim() || 'data/keys.json'), 'demo-credentials.json');
  let secrets: unknown;
  try {
    secrets = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    secrets = undefined;
  }
  const secret = (secrets as Record<string, unknown> | undefined)?.[clientId];
  if (typeof secret === 'string' && secret) return secret;
  throw new StartupError(
    `no secret for ${clientId}: set CONTACTS_API_CLIENT_SECRET, or start Latchkey once with the demo seed ` +
      `(npm start) so that ${file} holds it`,
  );
}

async function main() {
  const env = process.env;
  const port = readPort(env.PORT);
  const clientId = env.CONTACTS_API_CLIENT_ID?.trim() || 'contacts-api';
  const options: TokenCheckOptions = {
    issuer: readIssuer(env.ISSUER),
    resource: readResource(env.CONTACTS_RESOURCE),
    clientId,
    clientSecret: readSecret(env, clientId),
  };

  // Wrong credentials would turn every request into a 503: say so now. An issuer that is not up
  // yet is fine; requests get 503 until it is.
  const probe = await probeIntrospection(options);
  if (probe === 'rejected') {
    throw new StartupError(`${options.issuer} refused the introspection credentials of ${clientId}: check CONTACTS_API_CLIENT_ID/SECRET`);
  }
  if (probe === 'unreachable') console.warn(`warning: ${options.issuer} is not reachable yet; requests will get 503 until it is`);

  const server = http.createServer(createContactsApi(options).callback());
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new StartupError(`port ${port} is already in use: set PORT`) : error),
    );
    server.listen(port, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  console.log(`contacts API on http://localhost:${bound} for resource ${options.resource}, issuer ${options.issuer}`);

  const stop = () => server.close(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof StartupError ? `contacts API not started: ${error.message}` : error);
  process.exit(1);
});
