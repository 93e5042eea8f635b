// Registration without a human (MCP clients): DYNAMIC_REGISTRATION=open|token|off, the
// resource servers' opt-in for self-registered clients, their consent on every request, step-up
// past the scope they registered, default scopes, scope names two APIs share, and CORS for
// browser-based clients. With real HTTP and openid-client; CIMD clients are in
// client-metadata-documents.test.ts (they need a server that can trust a local certificate).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client } from '../helpers/oauth.ts';
import { consentFields, formAction, hiddenField, UserAgent, type PageResponse } from '../helpers/user-agent.ts';
import { introspect } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';
import { onwardLocation } from '../security/support.ts';

const MCP = 'http://127.0.0.1:4199/mcp';

describe.each(STORES)('registration policy (%s)', (store) => {
  let open: Harness;
  let f: Fixtures;
  let mcp: { id: string; secret: string };

  beforeAll(async () => {
    open = await startServer({ store, env: { DYNAMIC_REGISTRATION: 'open', REGISTRATIONS_PER_IP: '1000', TRUST_PROXY: 'true' } });
    f = await createFixtures(open);
    // An MCP server over the same contacts: its own audience, the same scope names (the contacts
    // API defines contacts:read and contacts:write too), open to self-registered clients.
    const created = await open.management.resources.add({
      id: MCP,
      name: 'Contacts MCP server',
      dynamicClients: true,
      scopes: [
        { scope: 'contacts:read', description: 'List your contacts' },
        { scope: 'contacts:write', description: 'Add contacts' },
      ],
    });
    mcp = { id: created.clientId, secret: created.clientSecret };
    await open.app.catalog.reload();
  });
  afterAll(async () => open?.close());

  const register = (h: Harness, metadata: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(h.url('/reg'), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(metadata) });

  /** A self-registered public client, as the MCP SDK registers one (its first challenge's scope). */
  async function selfRegistered(extra: Record<string, unknown> = {}) {
    const answer = await register(open, { client_name: 'Agent', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], scope: 'contacts:read', ...extra });
    expect(answer.status, await answer.clone().text()).toBe(201);
    return (await answer.json()) as { client_id: string; client_secret?: string; scope?: string };
  }

  async function config(registered: { client_id: string; client_secret?: string }) {
    return client.discovery(new URL(open.issuer), registered.client_id, registered.client_secret, registered.client_secret ? client.ClientSecretBasic(registered.client_secret) : client.None(), {
      execute: [client.allowInsecureRequests],
    });
  }

  /** Signs in when asked and returns the consent page (or the redirect, if none was shown). */
  async function toConsent(agent: UserAgent, url: URL): Promise<PageResponse> {
    let page = await agent.follow(url.toString(), REDIRECT);
    if (page.body.includes('/login"')) {
      const posted = await agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), { form: { csrf: hiddenField(page.body, 'csrf'), email: f.user.email, password: f.user.password } });
      page = await agent.follow(posted.location as string, REDIRECT);
    }
    return page;
  }

  async function approve(agent: UserAgent, page: PageResponse) {
    const posted = await agent.request(new URL(formAction(page.body, '/consent'), page.url).toString(), { form: consentFields(page.body) });
    return agent.follow(posted.location as string, REDIRECT);
  }

  it('open: anyone registers a public or a confidential client; the scope it registered is not its allow-list', async () => {
    const agent = await selfRegistered();
    expect(agent.client_id).toMatch(/^dyn_/);
    // An API scope in `scope` (what MCP clients register with) is accepted, and not kept as a cap.
    expect(agent.scope).toBeUndefined();
    const confidential = await register(open, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic', scope: 'openid contacts:read' });
    expect(confidential.status).toBe(201);
    expect(await confidential.json()).toMatchObject({ client_secret: expect.any(String), scope: 'openid' });
    const postAuth = await register(open, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_post' });
    expect(postAuth.status).toBe(201);
  });

  it('open: never client_credentials, and only APIs that opted in', async () => {
    const service = await register(open, { grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' });
    expect(service.status).toBe(400);
    expect(((await service.json()) as { error: string }).error).toBe('invalid_client_metadata');
    const named = await register(open, { redirect_uris: [REDIRECT], resource_scopes: { [CONTACTS]: 'contacts:read' } });
    expect(named.status).toBe(400);
    expect(await named.text()).toContain('does not accept self-registered clients');

    // Asking for the contacts API (not opted in) is invalid_target, at the authorization endpoint.
    const registered = await selfRegistered();
    const request = await authorizationRequest(await config(registered), { redirect_uri: REDIRECT, scope: 'contacts:read', resource: CONTACTS });
    const answer = await new UserAgent().follow(request.url.toString(), REDIRECT);
    // Unverified: the "you are leaving" page, whose link carries the error.
    expect(onwardLocation(answer, REDIRECT)).toContain('error=invalid_target');
  });

  it('open: a self-registered client gets a token for an API that opted in, with one audience, after consent', async () => {
    const registered = await selfRegistered();
    const configuration = await config(registered);
    const agent = new UserAgent();
    const request = await authorizationRequest(configuration, { redirect_uri: REDIRECT, scope: 'contacts:read', resource: MCP });
    const consent = await toConsent(agent, request.url);
    expect(consent.body).toContain('This app has not been verified');
    const final = await approve(agent, consent);
    const tokens = await client.authorizationCodeGrant(configuration, new URL(final.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state }, { resource: MCP });
    expect(await introspect(open.issuer, mcp, tokens.access_token)).toMatchObject({ active: true, aud: MCP, scope: 'contacts:read' });
    // Not for the contacts API, which shares the scope name but is another audience.
    expect(await introspect(open.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, tokens.access_token)).toEqual({ active: false });

    // Every new request shows consent again (unverified), with what it has shown as granted...
    const again = await authorizationRequest(configuration, { redirect_uri: REDIRECT, scope: 'contacts:read', resource: MCP });
    const second = await toConsent(agent, again.url);
    expect(second.body).toContain('already has access to');
    expect(second.body).not.toContain('name="scope" value="contacts:read"');
    expect(second.body).toContain('It asks for nothing more');
    // ...and a step-up past the registered scope offers only the new scope as a choice.
    const more = await authorizationRequest(configuration, { redirect_uri: REDIRECT, scope: 'contacts:read contacts:write', resource: MCP });
    const third = await toConsent(agent, more.url);
    expect(third.body).toContain('name="scope" value="contacts:write"');
    expect(third.body).not.toContain('name="scope" value="contacts:read"');
    const stepped = await client.authorizationCodeGrant(configuration, new URL((await approve(agent, third)).location as string), { pkceCodeVerifier: more.verifier, expectedState: more.state }, { resource: MCP });
    expect(stepped.scope?.split(' ').sort()).toEqual(['contacts:read', 'contacts:write']);
  });

  it('native clients with loopback redirect URIs may use any port (RFC 8252 §7.3)', async () => {
    const registered = await selfRegistered({ application_type: 'native', redirect_uris: ['http://127.0.0.1/callback'] });
    const configuration = await config(registered);
    const request = await authorizationRequest(configuration, { redirect_uri: 'http://127.0.0.1:53117/callback', scope: 'contacts:read', resource: MCP });
    const page = await new UserAgent().follow(request.url.toString(), 'http://127.0.0.1:53117/callback');
    expect(page.status).toBe(200);
    expect(page.body).toContain('/login"');
  });

  it('a scope name two APIs define means the one the client may use; if it may use both, it must say which', async () => {
    const shared = await open.management.clients.add({ name: 'Both APIs', redirectUris: [REDIRECT], resources: [CONTACTS, MCP], scope: 'openid contacts:read' }).catch((e: Error) => e);
    // The CLI asks which API is meant when --scope names a shared scope for several --resource.
    expect(String(shared)).toMatch(/defined by .* and .*: add --resource/);
    const discover = (created: { clientId: string; clientSecret?: string | undefined }) =>
      client.discovery(new URL(open.issuer), created.clientId, created.clientSecret, client.ClientSecretBasic(created.clientSecret as string), { execute: [client.allowInsecureRequests] });

    // Allowed only the contacts API: contacts:read means that one, resource or not.
    const onlyContacts = await discover(await open.management.clients.add({ name: 'Contacts only', redirectUris: [REDIRECT], resources: [CONTACTS], scope: 'openid contacts:read' }));
    const plain = await authorizationRequest(onlyContacts, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    expect((await new UserAgent().follow(plain.url.toString(), REDIRECT)).body).toContain('/login"');

    // Allowed both: without `resource` the request is ambiguous; with it, fine.
    const both = await discover(await open.management.clients.add({ name: 'Both APIs', redirectUris: [REDIRECT], resources: [CONTACTS, MCP] }));
    const ambiguous = await authorizationRequest(both, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const answer = await new UserAgent().follow(ambiguous.url.toString(), REDIRECT);
    expect(answer.location).toContain('error=invalid_target');
    const named = await authorizationRequest(both, { redirect_uri: REDIRECT, scope: 'openid contacts:read', resource: MCP });
    expect((await new UserAgent().follow(named.url.toString(), REDIRECT)).body).toContain('/login"');
  });

  it('a request that names an API but none of its scopes gets its default scope', async () => {
    await open.management.resources.update(MCP, { defaultScope: ['contacts:read'] });
    await open.app.catalog.reload();
    const registered = await selfRegistered();
    const configuration = await config(registered);
    const agent = new UserAgent();
    const request = await authorizationRequest(configuration, { redirect_uri: REDIRECT, scope: '', resource: MCP });
    const consent = await toConsent(agent, request.url);
    expect(consent.body).toContain('name="scope" value="contacts:read"');
    const tokens = await client.authorizationCodeGrant(configuration, new URL((await approve(agent, consent)).location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state }, { resource: MCP });
    expect(await introspect(open.issuer, mcp, tokens.access_token)).toMatchObject({ active: true, scope: 'contacts:read' });
    await open.management.resources.update(MCP, { defaultScope: [] });
  });

  it('open: registration is limited per address', async () => {
    const limited = await startServer({ store, env: { DYNAMIC_REGISTRATION: 'open', REGISTRATIONS_PER_IP: '2', TRUST_PROXY: 'true' }, sameDatabaseAs: open });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await register(limited, { redirect_uris: [REDIRECT] }, { 'x-forwarded-for': '198.51.100.31' })).status);
      expect(statuses).toEqual([201, 201, 429]);
      expect((await register(limited, { redirect_uris: [REDIRECT] }, { 'x-forwarded-for': '198.51.100.32' })).status).toBe(201);
    } finally {
      await limited.close();
    }
  });

  it('browser-based clients: registration, token, revocation and discovery answer CORS preflights with the MCP headers', async () => {
    const preflight = (path: string) =>
      fetch(open.url(path), { method: 'OPTIONS', headers: { origin: 'http://localhost:6274', 'access-control-request-method': path.startsWith('/.well') ? 'GET' : 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-protocol-version' } });
    for (const path of ['/reg', '/token', '/token/revocation', '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const answer = await preflight(path);
      expect(answer.status, path).toBeLessThan(300);
      expect(answer.headers.get('access-control-allow-origin'), path).toBeTruthy();
      expect(answer.headers.get('access-control-allow-headers')?.toLowerCase(), path).toContain('mcp-protocol-version');
    }
    const registered = await register(open, { redirect_uris: ['http://localhost:6274/oauth/callback'], token_endpoint_auth_method: 'none' }, { origin: 'http://localhost:6274' });
    expect(registered.status).toBe(201);
    expect(registered.headers.get('access-control-allow-origin')).toBe('*');
    // The pages stay same-origin.
    expect((await fetch(open.url('/auth'), { method: 'OPTIONS', headers: { origin: 'http://localhost:6274' } })).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe.each(STORES)('registration modes token and off (%s)', (store) => {
  const servers: Harness[] = [];
  afterAll(async () => Promise.all(servers.map((s) => s.close())));

  it('token (the default): registration needs an initial access token', async () => {
    const h = await startServer({ store });
    servers.push(h);
    const answer = await fetch(h.url('/reg'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) });
    expect(answer.status).toBe(401);
    const discovery = (await (await fetch(h.url('/.well-known/openid-configuration'))).json()) as Record<string, unknown>;
    expect(discovery.registration_endpoint).toBe(h.url('/reg'));
  });

  it('off: no registration endpoint, in discovery or at /reg', async () => {
    const h = await startServer({ store, env: { DYNAMIC_REGISTRATION: 'off' } });
    servers.push(h);
    const discovery = (await (await fetch(h.url('/.well-known/openid-configuration'))).json()) as Record<string, unknown>;
    expect(discovery.registration_endpoint).toBeUndefined();
    const answer = await fetch(h.url('/reg'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) });
    expect(answer.status).toBe(404);
  });
});
