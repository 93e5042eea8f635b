// The package as an API installs it: `latchkey/resource-server` built (npm run build) and
// imported by plain Node, with no TypeScript loader, through package.json's "exports" (the
// package refers to itself by name). The child process protects a node:http server with it,
// and a real Latchkey token is checked through it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildResourceServer } from '../../bin/build-resource-server.js';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, type Fixtures } from '../helpers/fixtures.ts';
import { ROOT } from '../helpers/processes.ts';
import { STORES } from '../helpers/databases.ts';
import { call, clientCredentialsToken } from './support.ts';

const API = `
const lib = await import('latchkey/resource-server');
const http = await import('node:http');
const rs = lib.resourceServer({ issuer: process.env.ISSUER, resource: process.env.RESOURCE, clientId: process.env.CLIENT_ID, clientSecret: process.env.CLIENT_SECRET });
const guard = rs.node('contacts:read');
const server = http.createServer(async (req, res) => {
  if (rs.metadata.node(req, res)) return;
  const token = await guard(req, res);
  if (!token) return;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ clientId: token.clientId, format: token.format, scopes: [...token.scopes] }));
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port, exports: Object.keys(lib).sort(), loaders: process.execArgv.filter((a) => /^(--import|--loader|--experimental-loader|--require|-r)/.test(a)), nodeOptions: process.env.NODE_OPTIONS ?? '' }));
});
`;

describe.each(STORES)('the built module in plain Node (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let child: ChildProcess | undefined;
  let started: { port: number; exports: string[]; loaders: string[]; nodeOptions: string };

  beforeAll(async () => {
    const bundle = buildResourceServer();
    expect(bundle).toBe(path.join(ROOT, 'dist/resource-server/index.js'));
    h = await startServer({ store });
    f = await createFixtures(h, { contactsFormat: 'opaque' });
    child = spawn(process.execPath, ['--input-type=module', '-e', API], {
      cwd: ROOT,
      // Nothing inherited that could load TypeScript (vitest's own NODE_OPTIONS included).
      env: { PATH: process.env.PATH, ISSUER: h.issuer, RESOURCE: f.contacts.id, CLIENT_ID: f.contacts.clientId, CLIENT_SECRET: f.contacts.clientSecret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started = await new Promise((resolve, reject) => {
      let output = '';
      child?.stdout?.on('data', (chunk) => {
        output += chunk;
        if (output.includes('\n')) resolve(JSON.parse(output.split('\n')[0] as string));
      });
      child?.stderr?.on('data', (chunk) => (output += chunk));
      child?.on('exit', (code) => reject(new Error(`the API exited with ${code}:\n${output}`)));
    });
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.on('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await h?.close();
  });

  it('imports without a TypeScript loader and exports the public API', () => {
    expect(started.loaders).toEqual([]);
    expect(started.nodeOptions).toBe('');
    expect(started.exports).toEqual(['ACCESS_TOKEN', 'TokenError', 'allows', 'createTokenVerifier', 'metadataUrlFor', 'resourceServer']);
  });

  it('checks a real token, and refuses a request without one', async () => {
    const url = `http://127.0.0.1:${started.port}/contacts`;
    const token = await clientCredentialsToken(h.issuer, f.service, { scope: 'contacts:read' });
    const accepted = await call(url, { headers: { authorization: `Bearer ${token}` } });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ clientId: f.service.clientId, format: 'opaque', scopes: ['contacts:read'] });
    const refused = await call(url);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe(`Bearer scope="contacts:read", resource_metadata="${f.contacts.id}/.well-known/oauth-protected-resource"`);
  });

  it('ships declarations whose relative imports name .js files', () => {
    const dir = path.join(ROOT, 'dist/resource-server');
    const declarations = fs.readdirSync(dir).filter((name) => name.endsWith('.d.ts'));
    expect(declarations).toContain('index.d.ts');
    for (const name of declarations) expect(fs.readFileSync(path.join(dir, name), 'utf8')).not.toMatch(/from '\.{1,2}\/[^']*\.ts'/);
  });
});
