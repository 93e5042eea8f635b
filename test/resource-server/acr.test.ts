// A route that needs a strong sign-in (RFC 9470): `rs.koa('contacts:write', { acr:
// 'urn:latchkey:acr:passkey' })` answers a token from a password sign-in (or from no sign-in at
// all: client credentials) with 401 `insufficient_user_authentication` and the acr values that
// would do; a passkey sign-in's token passes, and the route sees its acr and auth_time. Opaque
// (introspection) and JWT access tokens alike; Koa, Express and plain Node.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import express from 'express';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceServer, type AccessToken, type AccessTokenState, type ResourceServer } from '../../resource-server/index.ts';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { consentFields, formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { STORES } from '../helpers/databases.ts';
import { call, clientCredentialsToken, FRAMEWORKS, type Framework } from './support.ts';

const PASSKEY = 'urn:latchkey:acr:passkey';
const PASSWORD = 'urn:latchkey:acr:password';

const seen = (token: AccessToken) => ({ acr: token.acr ?? null, authTime: token.authTime ?? null });

function app(framework: Framework, rs: ResourceServer): http.RequestListener {
  if (framework === 'koa') {
    const koa = new Koa();
    const router = new Router<AccessTokenState>();
    router.get('/contacts', rs.koa('contacts:read', { acr: PASSWORD }), (ctx) => void (ctx.body = seen(ctx.state.accessToken)));
    router.post('/contacts', rs.koa('contacts:read', { acr: PASSKEY }), (ctx) => void (ctx.body = seen(ctx.state.accessToken)));
    koa.use(router.routes());
    return koa.callback();
  }
  if (framework === 'express') {
    const e = express();
    e.get('/contacts', rs.express('contacts:read', { acr: PASSWORD }), (_req, res) => void res.json(seen(res.locals.accessToken as AccessToken)));
    e.post('/contacts', rs.express('contacts:read', { acr: PASSKEY }), (_req, res) => void res.json(seen(res.locals.accessToken as AccessToken)));
    return e as unknown as http.RequestListener;
  }
  const guards = { GET: rs.node('contacts:read', { acr: PASSWORD }), POST: rs.node('contacts:read', { acr: PASSKEY }) };
  return async (req, res) => {
    const token = await guards[req.method as 'GET' | 'POST'](req, res);
    if (token) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(seen(token)));
  };
}

describe.each(STORES)('routes that need a passkey sign-in (%s)', (store) => {
  describe.each(['opaque', 'jwt'] as const)('%s access tokens', (format) => {
    let h: Harness;
    let f: Fixtures;
    let password: string;
    let passkey: string;
    let service: string;

    beforeAll(async () => {
      h = await startServer({ store, hostname: 'localhost' });
      f = await createFixtures(h, { contactsFormat: format });
      const editor = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
      password = (await codeFlow(editor, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens.access_token;
      service = await clientCredentialsToken(h.issuer, f.service, { scope: 'contacts:read' });

      // A passkey added on the account page, then an app's sign-in with it.
      const device = new SoftAuthenticator(h.issuer);
      const agent = new UserAgent();
      const form = await agent.follow(h.url('/account'), 'x:');
      await agent.request(h.url(formAction(form.body, '/login')), { form: { csrf: hiddenField(form.body, 'csrf'), email: f.user.email, password: f.user.password } });
      const csrf = hiddenField((await agent.request(h.url('/account'))).body, 'csrf');
      const creation = JSON.parse((await agent.request(h.url('/account/passkeys/options'), { form: { csrf } })).body);
      await agent.request(h.url('/account/passkeys'), { form: { csrf, name: 'Key', credential: JSON.stringify(device.register(creation)) } });
      const browser = new UserAgent();
      const request = await authorizationRequest(editor, { redirect_uri: REDIRECT, scope: 'openid contacts:read', prompt: 'consent' });
      const login = await browser.follow(request.url.toString(), REDIRECT);
      const base = new URL(login.url).pathname;
      const options = JSON.parse((await browser.request(h.url(`${base}/passkey/options`), { form: { csrf: hiddenField(login.body, 'csrf') } })).body);
      const signedIn = await browser.request(h.url(`${base}/passkey`), { form: { csrf: hiddenField(login.body, 'csrf'), credential: JSON.stringify(device.authenticate(options)) } });
      let page = await browser.follow(signedIn.location as string, REDIRECT);
      if (!page.location) page = await browser.request(new URL(formAction(page.body, '/consent'), page.url).toString(), { form: consentFields(page.body) });
      if (!page.location?.startsWith(REDIRECT)) page = await browser.follow(page.location as string, REDIRECT);
      passkey = (await client.authorizationCodeGrant(editor, new URL(page.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state })).access_token;
    });
    afterAll(async () => h?.close());

    describe.each(FRAMEWORKS)('in %s', (framework) => {
      let server: http.Server;
      let origin: string;
      beforeAll(async () => {
        const rs = resourceServer({ issuer: h.issuer, resource: f.contacts.id, clientId: f.contacts.clientId, clientSecret: f.contacts.clientSecret });
        server = http.createServer(app(framework, rs));
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      afterAll(async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      });

      const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

      it('a password sign-in meets a password minimum; the route sees acr and auth_time', async () => {
        const answer = await call(`${origin}/contacts`, bearer(password));
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual({ acr: PASSWORD, authTime: expect.any(Number) });
        expect((await call(`${origin}/contacts`, bearer(passkey))).body).toMatchObject({ acr: PASSKEY });
      });

      it('a password sign-in or none at all: 401 insufficient_user_authentication with acr_values (RFC 9470)', async () => {
        for (const token of [password, service]) {
          const answer = await call(`${origin}/contacts`, { method: 'POST', ...bearer(token) });
          expect(answer.status).toBe(401);
          expect(answer.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_user_authentication", error_description="[^"]+", acr_values="urn:latchkey:acr:passkey", resource_metadata="/);
          expect(answer.body).toMatchObject({ error: 'insufficient_user_authentication' });
        }
        // A client-credentials token has no user sign-in at all, so not even the password minimum.
        expect((await call(`${origin}/contacts`, bearer(service))).status).toBe(401);
      });

      it('a passkey sign-in passes', async () => {
        const answer = await call(`${origin}/contacts`, { method: 'POST', ...bearer(passkey) });
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual({ acr: PASSKEY, authTime: expect.any(Number) });
      });
    });
  });
});
