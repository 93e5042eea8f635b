// Entry point: `npm run demo:mcp`, next to a running Latchkey (`npm start`).
//
//   PORT               default 4100
//   ISSUER             default http://localhost:3000 (the Latchkey server)
//   MCP_RESOURCE       default http://localhost:<PORT>/mcp: this server's resource identifier, which
//                      is also its address (the MCP spec's rule); must equal the tokens' aud
//   MCP_CLIENT_ID      default contacts-mcp (its introspection credentials, as the demo seed made them)
//   MCP_CLIENT_SECRET  default: the "contacts-mcp" entry of data/demo-credentials.json
//   INTROSPECTION_CACHE_SECONDS  default 0: a revoked app is refused on its very next call
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readIssuer, readPort, readResource, readSecret, StartupError } from '../settings.ts';
import { createMcpApp } from './app.ts';

async function main() {
  const env = process.env;
  const port = readPort(env.PORT, 4100);
  const clientId = env.MCP_CLIENT_ID?.trim() || 'contacts-mcp';
  const cache = Number(env.INTROSPECTION_CACHE_SECONDS?.trim() || '0');
  if (!Number.isInteger(cache) || cache < 0 || cache > 30) throw new StartupError('INTROSPECTION_CACHE_SECONDS must be a whole number from 0 to 30');
  const resource = readResource('MCP_RESOURCE', env.MCP_RESOURCE, `http://localhost:${port}/mcp`);
  const app = createMcpApp({
    issuer: readIssuer(env.ISSUER),
    resource,
    clientId,
    clientSecret: readSecret(env, env.MCP_CLIENT_SECRET, clientId, 'MCP_CLIENT_SECRET'),
    introspectionCacheSeconds: cache,
    onError: (error) => {
      if (error.status >= 500) console.error(`authorization server unavailable: ${error.message}`, error.cause ?? '');
    },
  });
  const server = http.createServer(app);
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? new StartupError(`port ${port} is already in use: set PORT`) : error));
    server.listen(port, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  console.log(`demo MCP server on http://localhost:${bound}${new URL(resource).pathname} (resource ${resource}), issuer ${readIssuer(env.ISSUER)}`);
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof StartupError ? `demo MCP server not started: ${error.message}` : error);
  process.exit(1);
});
