// Entry point: `npm run demo:contacts-api`, next to a running Latchkey (`npm start`).
//
//   PORT                        default 4000
//   ISSUER                      default http://localhost:3000 (the Latchkey server)
//   CONTACTS_RESOURCE           default https://contacts-api.example (must equal the tokens' aud)
//   CONTACTS_API_CLIENT_ID      default contacts-api
//   CONTACTS_API_CLIENT_SECRET  default: the "contacts-api" entry of data/demo-credentials.json,
//                               which the demo seed writes next to KEYS_FILE
//   CONTACTS_API_URL            default http://localhost:<PORT>: where clients reach it (its RFC 9728
//                               document is served there, /.well-known/oauth-protected-resource)
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readIssuer, readPort, readResource, readSecret, StartupError } from '../settings.ts';
import { createContactsApi, type ContactsApiOptions } from './app.ts';

async function main() {
  const env = process.env;
  const port = readPort(env.PORT, 4000);
  const clientId = env.CONTACTS_API_CLIENT_ID?.trim() || 'contacts-api';
  const options: ContactsApiOptions = {
    issuer: readIssuer(env.ISSUER),
    resource: readResource('CONTACTS_RESOURCE', env.CONTACTS_RESOURCE, 'https://contacts-api.example'),
    clientId,
    clientSecret: readSecret(env, env.CONTACTS_API_CLIENT_SECRET, clientId, 'CONTACTS_API_CLIENT_SECRET'),
    // Its resource identifier is not where it runs: clients find its RFC 9728 document here.
    publicUrl: env.CONTACTS_API_URL?.trim() || `http://localhost:${port}`,
  };

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
