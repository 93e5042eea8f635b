// RFC 9728 protected resource metadata: served at the plain and the path-inserted well-known
// paths in every framework, readable from any origin, named by every challenge; and the whole
// discovery walk a client makes from a bare 401 to an accepted token, against a real Latchkey.
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { STORES } from '../helpers/databases.ts';
import { authorizationServer, call, clientCredentialsToken, FRAMEWORKS, startApi, type Api } from './support.ts';

const ALGS = ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];
// Never contacted: serving metadata needs no authorization server.
const ISSUER = 'https://login.example.test';

describe.each(FRAMEWORKS)('the metadata document in %s', (framework) => {
  let api: Api;
  let resource: string;
  beforeAll(async () => {
    // The API's resource identifier is its own URL with a path, as an MCP server's is.
    api = await startApi(framework, (origin) => ({ issuer: ISSUER, resource: (resource = `${origin}/contacts`), resourceName: 'Contacts API' }));
  });
  afterAll(async () => api?.close());

  it('is served at the path-inserted well-known URL (RFC 9728 §3.1) and the plain one, to any origin', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/contacts', '/.well-known/oauth-protected-resource']) {
      const answer = await call(api.url(path), { headers: { origin: 'https://inspector.example' } });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.headers['access-control-allow-origin']).toBe('*');
      expect(answer.body).toEqual({
        resource,
        authorization_servers: [ISSUER],
        // Every scope a route of this API names (none configured explicitly).
        scopes_supported: ['contacts:read', 'contacts:write'],
        bearer_methods_supported: ['header'],
        resource_name: 'Contacts API',
        dpop_signing_alg_values_supported: ALGS,
      });
    }
  });

  it('answers a CORS preflight, HEAD, and refuses other methods; other well-known paths are not its business', async () => {
    const preflight = await call(api.url('/.well-known/oauth-protected-resource/contacts'), {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers).toMatchObject({ 'access-control-allow-origin': '*', 'access-control-allow-headers': 'mcp-protocol-version' });
    expect(preflight.headers['access-control-allow-methods']).toContain('GET');
    const head = await call(api.url('/.well-known/oauth-protected-resource'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toEqual({});
    expect((await call(api.url('/.well-known/oauth-protected-resource'), { method: 'POST' })).status).toBe(405);
    expect((await call(api.url('/.well-known/oauth-protected-resource/elsewhere'))).status).toBe(404);
  });

  it('is what the challenge of a request without a token points at', async () => {
    const answer = await call(api.url('/contacts'));
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe(`Bearer scope="contacts:read", resource_metadata="${api.origin}/.well-known/oauth-protected-resource/contacts"`);
  });
});

describe('metadata options', () => {
  it('metadataUrl overrides the URL in challenges, and the document is served at its path too', async () => {
    const api = await startApi('koa', (origin) => ({
      issuer: ISSUER,
      resource: 'https://contacts.api.test',
      metadataUrl: `${origin}/meta/resource.json`,
      scopesSupported: ['contacts:read'],
      dpopRequired: true,
    }));
    try {
      expect((await call(api.url('/contacts'))).headers['www-authenticate']).toContain(`resource_metadata="${api.origin}/meta/resource.json"`);
      const document = await call(api.url('/meta/resource.json'));
      expect(document.body).toMatchObject({ resource: 'https://contacts.api.test', scopes_supported: ['contacts:read'], dpop_bound_access_tokens_required: true });
      expect(api.rs.metadata.url).toBe(`${api.origin}/meta/resource.json`);
    } finally {
      await api.close();
    }
  });

  it('without publicUrl or metadataUrl, the URL is built on the resource identifier (where the API is meant to be)', async () => {
    const api = await startApi('node', () => ({ issuer: ISSUER, resource: 'https://contacts.api.test/v1' }));
    try {
      expect(api.rs.metadata.url).toBe('https://contacts.api.test/.well-known/oauth-protected-resource/v1');
      expect((await call(api.url('/.well-known/oauth-protected-resource/v1'))).status).toBe(200);
    } finally {
      await api.close();
    }
  });
});

describe.each(STORES)('a client finds its way from a bare 401 to an accepted token (%s)', (store) => {
  let h: Harness;
  let api: Api;
  let service: { clientId: string; clientSecret: string };

  beforeAll(async () => {
    h = await startServer({ store });
    api = await startApi('node', (origin) => ({ issuer: h.issuer, resource: `${origin}/contacts` }));
    const resource = `${api.origin}/contacts`;
    await h.management.resources.add({
      id: resource,
      tokenFormat: 'jwt',
      scopes: [
        { scope: 'contacts:read', description: 'Read contacts' },
        { scope: 'contacts:write', description: 'Write contacts' },
      ],
    });
    const client = await h.management.clients.add({ name: 'Agent', grantTypes: ['client_credentials'], scope: 'contacts:read', resources: [resource] });
    await h.app.catalog.reload();
    service = { clientId: client.clientId, clientSecret: client.clientSecret as string };
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  it('challenge → metadata → authorization server → token for the named resource and scope → 200', async () => {
    // Read the way the MCP TypeScript SDK's client reads it.
    const bare = await fetch(api.url('/contacts'));
    expect(bare.status).toBe(401);
    const challenge = extractWWWAuthenticateParams(bare);
    expect(challenge.scope).toBe('contacts:read');
    const metadata = (await (await fetch(challenge.resourceMetadataUrl as URL)).json()) as { resource: string; authorization_servers: string[] };
    expect(metadata.authorization_servers).toEqual([h.issuer]);
    const as = await authorizationServer(metadata.authorization_servers[0] as string);
    expect(as.issuer).toBe(h.issuer);
    const token = await clientCredentialsToken(as.issuer, service, { scope: challenge.scope as string, resource: metadata.resource });
    const answer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${token}` } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ audience: metadata.resource, scopes: ['contacts:read'], clientId: service.clientId });
  });
});
