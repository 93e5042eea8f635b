// DPoP (RFC 9449) end to end: an app (oauth4webapi) binds its tokens to a key it holds, and uses
// them at the token endpoint (refresh) and at an API protected by latchkey/resource-server as an
// API installs it (the module bin/build-resource-server.js builds, imported by its package name).
// The same tokens without their key are refused by both: as a plain bearer token, with another
// key's proof, with a replayed proof, with a proof for another URL or method, with a stale proof.
// Then the clients that must use DPoP: made by an operator with `dpop_bound_access_tokens`, or
// self-registered with it (RFC 7591).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildResourceServer } from '../../bin/build-resource-server.js';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { introspect } from '../helpers/token-requests.ts';
import { apiRequest, codeFlow, dpopKey, oauth, postForm, proofFor, refresh, type DpopKey, type FlowClient } from '../helpers/dpop.ts';

const NOTES = 'https://notes.api.test';
const PACKAGE = 'latchkey/resource-server';
type Library = typeof import('../../resource-server/index.ts');

/** A Koa API with two routes, each guarded by the built library for one resource server. */
async function startApi(lib: Library, routes: Array<{ path: string; options: Parameters<Library['resourceServer']>[0]; scope: string }>) {
  const app = new Koa();
  for (const route of routes) {
    const guard = lib.resourceServer(route.options).koa(route.scope);
    app.use(async (ctx, next) => {
      if (ctx.path !== route.path) return next();
      await guard(ctx, async () => {
        ctx.body = { jkt: ctx.state.accessToken.jkt ?? null, clientId: ctx.state.accessToken.clientId };
      });
    });
  }
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${origin}${path}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.each(STORES)('DPoP-bound tokens end to end (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let app: FlowClient;
  let api: Awaited<ReturnType<typeof startApi>>;

  beforeAll(async () => {
    // The package as an API installs it: built, then imported by its name (package.json "exports").
    buildResourceServer();
    const lib = (await import(/* @vite-ignore */ PACKAGE)) as Library;
    h = await startServer({ store });
    f = await createFixtures(h);
    const notes = await h.management.resources.add({ id: NOTES, name: 'Notes API', tokenFormat: 'jwt', scopes: [{ scope: 'notes:read', description: 'Read your notes' }] });
    const spa = await h.management.clients.add({ name: 'Notes and contacts SPA', redirectUris: [REDIRECT], public: true, scope: 'contacts:read notes:read', resources: [CONTACTS, NOTES] });
    app = { clientId: spa.clientId };
    await h.app.catalog.reload();
    api = await startApi(lib, [
      { path: '/contacts', scope: 'contacts:read', options: { issuer: h.issuer, resource: CONTACTS, clientId: f.contacts.clientId, clientSecret: f.contacts.clientSecret } },
      { path: '/notes', scope: 'notes:read', options: { issuer: h.issuer, resource: NOTES, clientId: notes.clientId, clientSecret: notes.clientSecret } },
    ]);
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  describe.each([
    ['opaque', CONTACTS, 'contacts:read', '/contacts'],
    ['jwt', NOTES, 'notes:read', '/notes'],
  ] as const)('%s access tokens', (format, resource, scope, path) => {
    let key: DpopKey;
    let handle: oauth.DPoPHandle;
    let accessToken: string;
    let refreshToken: string;

    beforeAll(async () => {
      key = await dpopKey();
      handle = oauth.DPoP({}, key.pair);
      const tokens = await codeFlow(h.issuer, app, f.user, { scope, resource, key });
      expect(tokens.token_type).toBe('dpop');
      accessToken = tokens.access_token;
      refreshToken = tokens.refresh_token as string;
    });

    it('the binding is in the token (cnf.jkt): in the JWT, or in the introspection answer', async () => {
      if (format === 'jwt') {
        expect(decodeJwt(accessToken).cnf).toEqual({ jkt: key.jkt });
      } else {
        const info = await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, accessToken);
        expect(info).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
      }
    });

    it('works at the API with its key; refreshes with its key, and the new token is bound to the same key', async () => {
      const first = await apiRequest(accessToken, 'GET', api.url(path), handle);
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ jkt: key.jkt, clientId: app.clientId });

      const refreshed = await refresh(h.issuer, app, refreshToken, handle);
      expect(refreshed.token_type).toBe('dpop');
      expect(refreshed.refresh_token).not.toBe(refreshToken);
      accessToken = refreshed.access_token;
      refreshToken = refreshed.refresh_token as string;
      const second = await apiRequest(accessToken, 'GET', api.url(path), handle);
      expect(second.status).toBe(200);
      expect(((await second.json()) as { jkt: string }).jkt).toBe(key.jkt);
    });

    it('the API refuses the token as a bearer token, with another key, a replayed proof, another URL or method, a stale proof', async () => {
      const url = api.url(path);
      const call = async (authorization: string, dpop?: string) => {
        const response = await fetch(url, { headers: { authorization, ...(dpop ? { dpop } : {}) } });
        return { status: response.status, challenge: response.headers.get('www-authenticate') ?? '' };
      };
      const refused = (answer: { status: number; challenge: string }, error: string) => {
        expect(answer.status).toBe(401);
        expect(answer.challenge).toMatch(new RegExp(`^DPoP error="${error}"`));
      };
      const good = () => proofFor(key, { htm: 'GET', htu: url, accessToken });

      refused(await call(`Bearer ${accessToken}`), 'invalid_token');
      refused(await call(`DPoP ${accessToken}`, await proofFor(await dpopKey(), { htm: 'GET', htu: url, accessToken })), 'invalid_token');
      const once = await good();
      expect((await call(`DPoP ${accessToken}`, once)).status).toBe(200);
      refused(await call(`DPoP ${accessToken}`, once), 'invalid_dpop_proof');
      refused(await call(`DPoP ${accessToken}`, await proofFor(key, { htm: 'GET', htu: api.url('/elsewhere'), accessToken })), 'invalid_dpop_proof');
      refused(await call(`DPoP ${accessToken}`, await proofFor(key, { htm: 'POST', htu: url, accessToken })), 'invalid_dpop_proof');
      refused(await call(`DPoP ${accessToken}`, await proofFor(key, { htm: 'GET', htu: url, accessToken, iatOffset: -120 })), 'invalid_dpop_proof');
      // None of it spoiled the token for its holder.
      expect((await call(`DPoP ${accessToken}`, await good())).status).toBe(200);
    });

    it('the token endpoint refuses to refresh without the key, with another key, a replayed proof, another URL or method, a stale proof', async () => {
      const token = h.url('/token');
      const attempt = (dpop?: string) => postForm(token, { grant_type: 'refresh_token', client_id: app.clientId, refresh_token: refreshToken }, dpop ? { dpop } : {});
      const refused = async (dpop: string | undefined, error: string) => {
        const answer = await attempt(dpop);
        expect(answer.status, JSON.stringify(answer.body)).toBe(400);
        expect(answer.body.error).toBe(error);
      };

      await refused(undefined, 'invalid_grant');
      await refused(await proofFor(await dpopKey(), { htm: 'POST', htu: token }), 'invalid_grant');
      await refused(await proofFor(key, { htm: 'POST', htu: h.url('/token/introspection') }), 'invalid_dpop_proof');
      await refused(await proofFor(key, { htm: 'PUT', htu: token }), 'invalid_dpop_proof');
      // Outside the window the provider accepts without a nonce (§11.1): it offers one instead.
      const stale = await attempt(await proofFor(key, { htm: 'POST', htu: token, iatOffset: -600 }));
      expect([stale.status, stale.body.error]).toEqual([400, 'use_dpop_nonce']);
      expect(stale.headers.get('dpop-nonce')).toBeTruthy();

      // A proof the server accepted once is refused the next time, with the next refresh token.
      const once = await proofFor(key, { htm: 'POST', htu: token });
      const accepted = await attempt(once);
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
      refreshToken = accepted.body.refresh_token as string;
      accessToken = accepted.body.access_token as string;
      await refused(once, 'invalid_grant');

      // Every refusal left the refresh token to its holder.
      const after = await refresh(h.issuer, app, refreshToken, handle);
      expect(after.token_type).toBe('dpop');
    });
  });

  describe('clients that must use DPoP (dpop_bound_access_tokens)', () => {
    it('made by an operator: the code is not redeemed without a proof; with one the tokens are bound', async () => {
      const made = await h.management.clients.add({ name: 'Bound app', redirectUris: [REDIRECT], scope: 'contacts:read', resources: [CONTACTS], dpopBound: true });
      const bound = { clientId: made.clientId, clientSecret: made.clientSecret as string };
      // The library's flow, without a key: refused at the token endpoint (oidc-provider keeps its
      // detail, "DPoP proof JWT not provided", out of the answer: invalid_grant says no more).
      await expect(codeFlow(h.issuer, bound, f.user, { scope: 'contacts:read' })).rejects.toMatchObject({ error: 'invalid_grant' });
      const key = await dpopKey();
      const tokens = await codeFlow(h.issuer, bound, f.user, { scope: 'contacts:read', key });
      expect(tokens.token_type).toBe('dpop');
      // A confidential client's refresh token is bound by its authentication (§5), and the
      // client must still prove a key to refresh.
      const without = await postForm(h.url('/token'), { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string }, { authorization: `Basic ${Buffer.from(`${bound.clientId}:${bound.clientSecret}`).toString('base64')}` });
      expect([without.status, without.body.error]).toEqual([400, 'invalid_grant']);
      expect((await refresh(h.issuer, bound, tokens.refresh_token as string, oauth.DPoP({}, key.pair))).token_type).toBe('dpop');
      expect(made.metadata.dpop_bound_access_tokens).toBe(true);
    });

    it('a client may register itself with dpop_bound_access_tokens (RFC 7591), and is held to it', async () => {
      const initialAccessToken = await new h.app.provider.InitialAccessToken({}).save();
      const registered = await fetch(h.url('/reg'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${initialAccessToken}` },
        body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', resource_scopes: { [CONTACTS]: 'contacts:read' }, dpop_bound_access_tokens: true }),
      });
      expect(registered.status).toBe(201);
      const metadata = (await registered.json()) as { client_id: string; dpop_bound_access_tokens: boolean };
      expect(metadata.dpop_bound_access_tokens).toBe(true);
      const self = { clientId: metadata.client_id };
      await expect(codeFlow(h.issuer, self, f.user, { scope: 'contacts:read', resource: CONTACTS })).rejects.toMatchObject({ error: 'invalid_grant' });
      const tokens = await codeFlow(h.issuer, self, f.user, { scope: 'contacts:read', resource: CONTACTS, key: await dpopKey() });
      expect(tokens.token_type).toBe('dpop');
    });
  });
});
