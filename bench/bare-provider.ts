// The second baseline of `npm run bench`: oidc-provider alone, with its memory adapter, the
// provider options that shape W1–W3 set as ours are (bench/bare-configuration.ts), and no
// Latchkey code in the request path. Requests for the provider go straight to its own Koa
// callback; only /bench/* (the same stats route as our bench server) and /interaction/* (the
// prepare-only sign-in, bench/bare-interactions.ts) go to a small app beside it.
// Built into dist/bench/bare-provider.js (bench/bare-target.ts) and started like our bench
// server: PORT, ISSUER, plus BARE_CLIENT_SECRETS (JSON: the demo clients' secrets).
import http from 'node:http';
import Koa from 'koa';
import Provider from 'oidc-provider';
import { benchRoutes, sizeMemoryStorage, type StatementCounter } from './instrumentation.ts';
import { bareConfiguration, BARE_CLIENT_IDS, type BareSecrets } from './bare-configuration.ts';
import { bareInteractions } from './bare-interactions.ts';

if (process.env.NODE_ENV === 'production') throw new Error('the bare benchmark baseline is refused in production (NODE_ENV=production)');
const port = Number(process.env.PORT);
const issuer = process.env.ISSUER ?? `http://127.0.0.1:${port}`;
const secrets = JSON.parse(process.env.BARE_CLIENT_SECRETS ?? '{}') as BareSecrets;
const absent = BARE_CLIENT_IDS.filter((id) => typeof secrets[id] !== 'string');
if (!Number.isInteger(port) || absent.length) throw new Error(`PORT and BARE_CLIENT_SECRETS (${BARE_CLIENT_IDS.join(', ')}) are required`);

sizeMemoryStorage();
const provider = new Provider(issuer, bareConfiguration(secrets));

// No SQL here: the stats route reports 0 statements, and CPU and RSS as for our server.
const noStatements: StatementCounter = { count: () => 0, add: () => undefined, byStatement: () => [] };
const side = new Koa();
side.use(benchRoutes(noStatements, 'bare').routes());
side.use(bareInteractions(provider).routes());

const toProvider = provider.callback();
const toSide = side.callback();
const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  return url.startsWith('/bench/') || url.startsWith('/interaction/') ? toSide(req, res) : toProvider(req, res);
});
server.listen(port, '127.0.0.1', () => console.log(`bare oidc-provider listening on ${issuer}`));

process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
