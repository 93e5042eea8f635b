// A real MCP client signs into Latchkey: the MCP TypeScript SDK's own Client and
// StreamableHTTPClientTransport with an OAuthClientProvider (not our code), against `npm start`
// (DYNAMIC_REGISTRATION=open) and the demo MCP server (`npm run demo:mcp`), with Chromium for the
// login and consent pages. connect → 401 with resource_metadata → the SDK discovers Latchkey from
// the protected-resource metadata → registers itself (or, second run, uses a client ID metadata
// document) → login and consent → list_contacts works; add_contact with the read-only token → 403
// insufficient_scope → the client re-authorizes for both scopes (SDK 1.32 refreshes with the same
// scope and gives up, so the test calls the SDK's auth() with the challenge's scope, as an MCP
// client does) → consent offers only the new scope → add_contact works; the access token expires
// and the SDK refreshes; the user revokes the app on the connected-apps page → the next call is
// refused. Tokens carry one audience: a contacts API token is refused by the MCP server and the
// other way round.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { freePort, npmStart, ROOT, runCli, tempDir, waitForHttp, type ServerProcess } from '../helpers/processes.ts';
import { launchChromium } from '../helpers/browser.ts';
import { basic } from '../helpers/token-requests.ts';
import { TEST_TLS } from '../security/support.ts';
import { freshDatabase, STORES, type FreshDatabase } from '../helpers/databases.ts';
import { DEMO } from '../../seeds/01-demo.ts';
import { spawn, type ChildProcess } from 'node:child_process';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** The MCP client's side of OAuth, kept in memory, as an MCP host would keep it. */
class TestOAuthProvider implements OAuthClientProvider {
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';
  /** Where the SDK sent the user last (the test drives Chromium there). */
  authorizationUrl: URL | undefined;
  refreshes = 0;

  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'Test MCP agent', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() {
    return this.#client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.#client = info;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens) {
    if (this.#tokens?.refresh_token && tokens.access_token !== this.#tokens.access_token && !this.authorizationUrl) this.refreshes += 1;
    this.#tokens = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier() {
    return this.#verifier;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (scope === 'all' || scope === 'tokens') this.#tokens = undefined;
  }
}

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const look = (chunk: Buffer) => {
      output += chunk;
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    child.on('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
}

const RUNS = STORES.flatMap((store) => (['registration', 'metadata document'] as const).map((identification) => ({ store, identification })));

describe.each(RUNS)('an MCP client signs in through Latchkey ($identification, $store)', ({ store, identification }) => {
  const dir = tempDir();
  let database: FreshDatabase;
  const keysFile = path.join(dir, 'keys.json');
  let issuer: string;
  let latchkey: ServerProcess;
  let mcpUrl: string;
  let mcp: ChildProcess;
  let contactsApiUrl: string;
  let contactsApi: ChildProcess;
  let browser: Browser;
  let page: Page;
  let callback: http.Server;
  let redirectUrl: string;
  let documents: https.Server | undefined;
  let clientMetadataUrl: string | undefined;
  const codes: string[] = [];

  beforeAll(async () => {
    issuer = `http://127.0.0.1:${await freePort()}`;
    const mcpPort = await freePort();
    mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
    database = await freshDatabase(store);
    const env = { DATABASE_URL: database.url, KEYS_FILE: keysFile };

    // The MCP client's redirect target, and (second run) its metadata document over https.
    callback = http.createServer((req, res) => {
      const code = new URL(req.url ?? '/', 'http://x').searchParams.get('code');
      if (code) codes.push(code);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>agent</title>back in the agent');
    });
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
    redirectUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
    if (identification === 'metadata document') {
      fs.writeFileSync(path.join(dir, 'ca.pem'), TEST_TLS.cert);
      documents = https.createServer({ cert: TEST_TLS.cert, key: TEST_TLS.key }, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({ client_id: clientMetadataUrl, client_name: 'Test MCP agent', redirect_uris: [redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
        );
      });
      await new Promise<void>((resolve) => documents?.listen(0, '127.0.0.1', resolve));
      clientMetadataUrl = `https://127.0.0.1:${(documents.address() as AddressInfo).port}/agent.json`;
    }

    latchkey = npmStart({
      ...env,
      PORT: new URL(issuer).port,
      ISSUER: issuer,
      DYNAMIC_REGISTRATION: 'open',
      ...(identification === 'metadata document' ? { CIMD_ALLOW_LOOPBACK: 'true', NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') } : {}),
    });
    await waitForHttp(`${issuer}/.well-known/openid-configuration`, 60_000, latchkey.exited);
    // The MCP server's resource on this test's port (the demo seed has it on 4100): opaque tokens
    // that live 8 s, so the test sees the SDK refresh them.
    const added = await runCli(['resource', 'add', '--id', mcpUrl, '--name', 'Contacts MCP server', '--scope', 'contacts:read contacts:write', '--describe', 'contacts:read=List your contacts', '--describe', 'contacts:write=Add contacts', '--dynamic-clients', '--ttl', '10', '--json'], { ...env, ISSUER: issuer });
    expect(added.code, added.stderr).toBe(0);
    const credentials = JSON.parse(added.stdout) as { client_id: string; client_secret: string };

    mcp = spawn('npm', ['run', '--silent', 'demo:mcp'], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(mcpPort), ISSUER: issuer, MCP_RESOURCE: mcpUrl, MCP_CLIENT_ID: credentials.client_id, MCP_CLIENT_SECRET: credentials.client_secret },
      detached: true,
    });
    const contactsPort = await freePort();
    contactsApiUrl = `http://127.0.0.1:${contactsPort}`;
    contactsApi = spawn('npm', ['run', '--silent', 'demo:contacts-api'], { cwd: ROOT, env: { ...process.env, PORT: String(contactsPort), ISSUER: issuer, KEYS_FILE: keysFile }, detached: true });
    await Promise.all([waitForOutput(mcp, /demo MCP server on/), waitForOutput(contactsApi, /contacts API on/)]);

    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    for (const child of [mcp, contactsApi]) {
      try {
        if (child?.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    latchkey?.killAll();
    await browser?.close();
    callback?.closeAllConnections();
    callback?.close();
    documents?.closeAllConnections();
    documents?.close();
    await database?.drop();
  });

  /** Follows the SDK's authorization URL in Chromium: sign in when asked, approve, back to the agent. */
  async function authorizeInBrowser(provider: TestOAuthProvider, expectChoices: string[]): Promise<string> {
    const target = provider.authorizationUrl as URL;
    provider.authorizationUrl = undefined;
    await page.goto(target.toString());
    if (await page.getByRole('button', { name: 'Sign in' }).count()) {
      await page.getByLabel('Email address').fill(DEMO.user.email);
      await page.getByLabel('Password').fill(DEMO.user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
    }
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    const choices = await page.locator('input[name="scope"]').evaluateAll((boxes) => boxes.map((b) => b.getAttribute('value') ?? ''));
    expect(choices.sort()).toEqual(expectChoices);
    expect(await page.locator('main').innerText()).toContain('This app has not been verified');
    await page.screenshot({ path: path.join(ARTIFACTS, `mcp-consent-${identification.replace(' ', '-')}-${store}-${expectChoices.length}.png`), fullPage: true });
    const before = codes.length;
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.toString().startsWith(redirectUrl));
    expect(codes.length).toBe(before + 1);
    return codes.at(-1) as string;
  }

  async function connect(provider: TestOAuthProvider): Promise<Client> {
    const client = new Client({ name: 'latchkey-test-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
    return client;
  }

  it('discovers Latchkey, identifies itself, and steps up from read to write', async () => {
    const provider = new TestOAuthProvider(redirectUrl, clientMetadataUrl);

    // No token: 401 with the metadata URL and the scope to start with.
    const bare = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toContain(`resource_metadata="${new URL(mcpUrl).origin}/.well-known/oauth-protected-resource/mcp"`);

    // First connection: the SDK finds Latchkey, registers (or names its document) and sends the user.
    const first = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    await expect(new Client({ name: 'latchkey-test-agent', version: '1.0.0' }).connect(first)).rejects.toThrow(/Unauthorized/);
    const info = provider.clientInformation();
    if (identification === 'registration') expect(info?.client_id).toMatch(/^dyn_/);
    else expect(info?.client_id).toBe(clientMetadataUrl);
    const requested = provider.authorizationUrl as URL;
    expect(requested.origin).toBe(issuer);
    expect(requested.searchParams.get('resource')).toBe(mcpUrl);
    expect(requested.searchParams.get('scope')).toBe('contacts:read');
    await first.finishAuth(await authorizeInBrowser(provider, ['contacts:read']));

    const client = await connect(provider);
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(['add_contact', 'list_contacts']);
    expect((await client.callTool({ name: 'list_contacts', arguments: {} })).structuredContent).toEqual({ contacts: [] });

    // add_contact with the read-only token: 403 insufficient_scope naming every scope it needs.
    const readOnly = provider.tokens()?.access_token as string;
    const denied = await fetch(mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${readOnly}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add_contact', arguments: { name: 'Bob', email: 'bob@example.com' } } }),
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(denied.headers.get('www-authenticate')).toContain('scope="contacts:read contacts:write"');
    // The SDK itself refreshes with the same scope once, then gives up...
    await expect(client.callTool({ name: 'add_contact', arguments: { name: 'Bob', email: 'bob@example.com' } })).rejects.toThrow(/403/);
    // ...so the host re-authorizes with the challenge's scope; consent offers only the new one.
    provider.invalidateCredentials('tokens');
    expect(await auth(provider, { serverUrl: new URL(mcpUrl), scope: 'contacts:read contacts:write' })).toBe('REDIRECT');
    const code = await authorizeInBrowser(provider, ['contacts:write']);
    expect(await auth(provider, { serverUrl: new URL(mcpUrl), authorizationCode: code, scope: 'contacts:read contacts:write' })).toBe('AUTHORIZED');
    expect(provider.tokens()?.scope?.split(' ').sort()).toEqual(['contacts:read', 'contacts:write']);

    const writer = await connect(provider);
    const added = await writer.callTool({ name: 'add_contact', arguments: { name: 'Bob', email: 'bob@example.com' } });
    expect(added.isError).toBeFalsy();
    const listed = (await writer.callTool({ name: 'list_contacts', arguments: {} })).structuredContent as { contacts: Array<{ name: string }> };
    expect(listed.contacts.map((c) => c.name)).toEqual(['Bob']);

    // One audience each: the MCP token at the contacts API, and a contacts API token at the MCP server.
    const mcpToken = provider.tokens()?.access_token as string;
    expect((await fetch(`${contactsApiUrl}/contacts`, { headers: { authorization: `Bearer ${mcpToken}` } })).status).toBe(401);
    const secrets = JSON.parse(fs.readFileSync(path.join(dir, 'demo-credentials.json'), 'utf8')) as Record<string, string>;
    const sync = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic(DEMO.sync.clientId, secrets[DEMO.sync.clientId] as string), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'contacts:read', resource: DEMO.contactsApi.id }),
    });
    const contactsToken = ((await sync.json()) as { access_token: string }).access_token;
    expect((await fetch(`${contactsApiUrl}/contacts`, { headers: { authorization: `Bearer ${contactsToken}` } })).status).toBe(200);
    const wrongAudience = await fetch(mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${contactsToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc":"2.0","id":3,"method":"tools/list"}',
    });
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.headers.get('www-authenticate')).toContain('error="invalid_token"');

    // The access token expires (10 s); the SDK refreshes it and the call goes through.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const beforeRefresh = provider.tokens()?.access_token;
    expect((await writer.callTool({ name: 'list_contacts', arguments: {} })).isError).toBeFalsy();
    expect(provider.tokens()?.access_token).not.toBe(beforeRefresh);

    // The user revokes the app on the connected-apps page: the next call is refused.
    await page.goto(`${issuer}/account`);
    await page.getByRole('heading', { name: 'Connected apps' }).waitFor();
    await page.getByRole('button', { name: /^Revoke access for Test MCP agent/ }).click();
    await page.getByRole('status').waitFor({ state: 'visible' });
    await expect(writer.callTool({ name: 'list_contacts', arguments: {} })).rejects.toThrow();
    const afterRevoke = await fetch(mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${provider.tokens()?.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc":"2.0","id":4,"method":"tools/list"}',
    });
    expect(afterRevoke.status).toBe(401);
  }, 120_000);
});
