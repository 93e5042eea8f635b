// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; the MCP spec's
// preferred way): a client_id that is an https URL names the client's metadata document, which
// the server fetches. The server runs as a child process so that it can trust the test's local
// certificate (NODE_EXTRA_CA_CERTS) and fetch from 127.0.0.1 (CIMD_ALLOW_LOOPBACK; refused in
// production, and without it the SSRF guard refuses loopback addresses). Such a client is
// unverified, shown with the host of its document and of its redirect URI, and limited to the
// APIs that opted in.
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../helpers/processes.ts';
import { startServerProcess, type ServerChild } from '../helpers/server-process.ts';
import { consentFields, formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { freshDatabase, STORES, type FreshDatabase } from '../helpers/databases.ts';
import { basic } from '../helpers/token-requests.ts';
import { TEST_TLS } from '../security/support.ts';
import { loadConfig } from '../../server/config/env.ts';
import { DEMO } from '../../seeds/01-demo.ts';

const REDIRECT = 'http://127.0.0.1:9931/callback';

describe.each(STORES)('client ID metadata documents (%s)', (store) => {
  const dir = tempDir();
  let database: FreshDatabase;
  let documents: https.Server;
  let documentUrl: string;
  const servers: ServerChild[] = [];

  async function server(env: Record<string, string>): Promise<ServerChild> {
    const child = startServerProcess({
      port: await freePort(),
      env: { DATABASE_URL: database.url, KEYS_FILE: path.join(dir, 'keys.json'), NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'), ...env },
    });
    servers.push(child);
    await child.ready(60_000);
    return child;
  }

  beforeAll(async () => {
    database = await freshDatabase(store);
    fs.writeFileSync(path.join(dir, 'ca.pem'), TEST_TLS.cert);
    documents = https.createServer({ cert: TEST_TLS.cert, key: TEST_TLS.key }, (req, res) => {
      const document = { client_id: documentUrl, client_name: 'Document Agent', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] };
      res.writeHead(req.url === '/agent.json' ? 200 : 404, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end(JSON.stringify(document));
    });
    await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
    documentUrl = `https://127.0.0.1:${(documents.address() as AddressInfo).port}/agent.json`;
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    documents?.closeAllConnections();
    await new Promise((resolve) => documents?.close(resolve));
    await database?.drop();
  });

  function authorizeUrl(issuer: string, resource: string) {
    const verifier = crypto.randomBytes(32).toString('base64url');
    const params = new URLSearchParams({
      client_id: documentUrl,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'contacts:read',
      resource,
      state: 'cimd',
      code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    return { url: `${issuer}/auth?${params}`, verifier };
  }

  it('a client identified by its document signs a user in, unverified, shown with its hosts, for an API that opted in', async () => {
    const latchkey = await server({ CIMD_ALLOW_LOOPBACK: 'true' });
    const discovery = (await (await fetch(`${latchkey.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(discovery.client_id_metadata_document_supported).toBe(true);

    const agent = new UserAgent();
    const { url, verifier } = authorizeUrl(latchkey.issuer, DEMO.mcpServer.id);
    let page = await agent.follow(url, REDIRECT);
    expect(page.status, page.body.slice(0, 300)).toBe(200);
    const posted = await agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), { form: { csrf: hiddenField(page.body, 'csrf'), email: DEMO.user.email, password: DEMO.user.password } });
    page = await agent.follow(posted.location as string, REDIRECT);
    expect(page.body).toContain('Document Agent');
    expect(page.body).toContain('This app has not been verified');
    expect(page.body).toContain(`This app describes itself at <strong>${new URL(documentUrl).host}</strong>`);
    expect(page.body).toContain('you will be returned to <strong>127.0.0.1:9931</strong>');
    const approved = await agent.request(new URL(formAction(page.body, '/consent'), page.url).toString(), { form: consentFields(page.body) });
    const final = await agent.follow(approved.location as string, REDIRECT);
    const code = new URL(final.location as string).searchParams.get('code') as string;
    const token = await fetch(`${latchkey.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: documentUrl, code, code_verifier: verifier, redirect_uri: REDIRECT, resource: DEMO.mcpServer.id }),
    });
    expect(token.status).toBe(200);
    const { access_token: accessToken } = (await token.json()) as { access_token: string };
    const secrets = JSON.parse(fs.readFileSync(path.join(dir, 'demo-credentials.json'), 'utf8')) as Record<string, string>;
    const introspection = await fetch(`${latchkey.issuer}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(DEMO.mcpServer.introspectionClientId, secrets[DEMO.mcpServer.introspectionClientId] as string) },
      body: new URLSearchParams({ token: accessToken }),
    });
    expect(await introspection.json()).toMatchObject({ active: true, client_id: documentUrl, aud: DEMO.mcpServer.id, scope: 'contacts:read' });

    // The contacts API has not opted in: invalid_target, shown on the "you are leaving" page.
    const other = authorizeUrl(latchkey.issuer, DEMO.contactsApi.id);
    const refused = await agent.follow(other.url, REDIRECT);
    expect(refused.body.replace(/&amp;/g, '&')).toContain('error=invalid_target');
  });

  it('without CIMD_ALLOW_LOOPBACK the document on a loopback address is not fetched (SSRF guard)', async () => {
    const latchkey = await server({});
    const answer = await new UserAgent().follow(authorizeUrl(latchkey.issuer, DEMO.mcpServer.id).url, REDIRECT);
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('invalid_client');
    expect(answer.location).toBeUndefined();
  });

  it('CLIENT_ID_METADATA_DOCUMENTS=false turns them off', async () => {
    const latchkey = await server({ CIMD_ALLOW_LOOPBACK: 'true', CLIENT_ID_METADATA_DOCUMENTS: 'false' });
    const discovery = (await (await fetch(`${latchkey.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(discovery.client_id_metadata_document_supported).toBeUndefined();
    const answer = await new UserAgent().follow(authorizeUrl(latchkey.issuer, DEMO.mcpServer.id).url, REDIRECT);
    expect(answer.status).toBe(400);
  });

  it('CIMD_ALLOW_LOOPBACK is refused in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', ISSUER: 'https://as.example', CIMD_ALLOW_LOOPBACK: 'true' })).toThrow(/CIMD_ALLOW_LOOPBACK is for development and tests only/);
  });
});
