// The demo MCP server over node:http: an OAuth protected resource (its resource identifier is its
// own URL, http://localhost:4100/mcp by default) checked with latchkey/resource-server, with the
// Streamable HTTP transport of the MCP TypeScript SDK at /mcp and its RFC 9728 metadata at
// /.well-known/oauth-protected-resource[/mcp].
//
// Stateless: each POST gets a fresh MCP server and transport (no session to keep across
// instances). The JSON-RPC body is read first, because which scopes a request needs depends on
// what it calls (scopesFor); the token is checked against them before anything runs.
import http from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { resourceServer, type ResourceServerOptions } from '../../resource-server/index.ts';
import { ContactStore } from '../contacts-api/store.ts';
import { contactsMcpServer, READ, scopesFor, WRITE } from './tools.ts';

export interface McpAppOptions extends Pick<ResourceServerOptions, 'issuer' | 'resource' | 'clientId' | 'clientSecret' | 'introspectionCacheSeconds' | 'onError'> {
  store?: ContactStore;
}

const MAX_BODY = 1024 * 1024;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function createMcpApp(options: McpAppOptions): http.RequestListener {
  const store = options.store ?? new ContactStore();
  const rs = resourceServer({ ...options, resourceName: 'Contacts MCP server', scopesSupported: [READ, WRITE], requiredScopes: [READ] });
  const guards = { read: rs.node(READ), write: rs.node(READ, WRITE) };
  const path = new URL(options.resource).pathname;

  return async function handle(req, res) {
    try {
      if (rs.metadata.node(req, res)) return;
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== path) return json(res, 404, { error: 'not_found', error_description: `The MCP endpoint is ${path}` });
      if (req.method !== 'POST') {
        // Stateless Streamable HTTP: no server-initiated stream, no session to delete.
        res.setHeader('Allow', 'POST');
        return json(res, 405, { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: POST JSON-RPC messages to this endpoint' }, id: null });
      }
      const text = await readBody(req);
      if (text === undefined) return json(res, 413, { jsonrpc: '2.0', error: { code: -32600, message: 'Request body too large' }, id: null });
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return json(res, 400, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null });
      }
      const needs = scopesFor(body);
      const token = await (needs.includes(WRITE) ? guards.write : guards.read)(req, res);
      if (!token) return;

      const server = contactsMcpServer(store);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      const auth = { token: 'checked', clientId: token.clientId, scopes: [...token.scopes], expiresAt: token.expiresAt, extra: { sub: token.sub } };
      await transport.handleRequest(Object.assign(req, { auth }), res, body);
    } catch (error) {
      console.error('demo MCP server: unexpected failure', error);
      if (!res.headersSent) json(res, 500, { jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null });
    }
  };
}
