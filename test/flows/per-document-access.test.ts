// Per-document access (RFC 9396) where it is used, on SQLite and PostgreSQL: the demo contacts API
// lets a token carrying one `contact` detail read that contact and refuses every other;
// latchkey/resource-server exposes the details of opaque (introspection) and JWT access tokens
// to the route; the connected-apps page lists the documents an app may use and withdraws one,
// which tokens issued before lose at once.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContactsApi } from '../../demo/contacts-api/app.ts';
import { ContactStore } from '../../demo/contacts-api/store.ts';
import { resourceServer, type AccessToken } from '../../resource-server/index.ts';
import { CONTACT_DETAIL_TYPE } from '../../server/services/demo-data.ts';
import { createDetailGrants } from '../../server/services/detail-grants.ts';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { createJournal, detailFlow, documentDetail, JOURNAL, type JournalFixtures } from '../helpers/documents.ts';

/** Listens first (the app is told its own origin), then serves it. */
async function listen(build: (origin: string) => Koa): Promise<{ url: string; close(): Promise<void> }> {
  let handle: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  handle = build(url).callback();
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** An API route behind `rs.koa()` that answers what the middleware put in `ctx.state.accessToken`. */
function echoApi(issuer: string, resource: string, credentials: { clientId: string; clientSecret: string }) {
  return listen((origin) => {
    const rs = resourceServer({ issuer, resource, ...credentials, publicUrl: origin, introspectionCacheSeconds: 0 });
    const guard = rs.koa();
    const app = new Koa();
    app.use((ctx, next) => guard(ctx as never, next));
    app.use((ctx) => {
      const token = (ctx.state as { accessToken: AccessToken }).accessToken;
      ctx.body = { format: token.format, authorizationDetails: token.authorizationDetails };
    });
    return app;
  });
}

const contactDetail = (id: string, name: string) => ({ type: 'contact', identifier: id, name, actions: ['read'] });

describe.each(STORES)('per-contact access through the demo contacts API (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let api: Awaited<ReturnType<typeof listen>>;
  const contacts = new ContactStore();
  let bob: { id: string };
  let carol: { id: string };

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    await h.management.resources.update(CONTACTS, { authorizationDetailTypes: [CONTACT_DETAIL_TYPE] });
    await h.app.catalog.reload();
    bob = contacts.add(`user:${f.user.id}`, { name: 'Bob', email: 'bob@example.com' });
    carol = contacts.add(`user:${f.user.id}`, { name: 'Carol', email: 'carol@example.com' });
    api = await listen((origin) => createContactsApi({ issuer: h.issuer, resource: CONTACTS, clientId: f.contacts.clientId, clientSecret: f.contacts.clientSecret, publicUrl: origin, store: contacts, log: () => undefined }));
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  it('a token for one contact reads that contact; every other contact and the list are refused', async () => {
    const { tokens, consentPage } = await detailFlow(h, f.reader, f.user, [contactDetail(bob.id, 'Bob')], { scope: 'openid' });
    expect(consentPage).toContain(`See your contact Bob (${bob.id}): read`);
    expect(tokens.scope ?? '').not.toContain('contacts:read');
    const get = (path: string) => fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    const mine = await get(`/contacts/${bob.id}`);
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ name: 'Bob' });
    const other = await get(`/contacts/${carol.id}`);
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ error: 'insufficient_scope' });
    expect((await get('/contacts')).status).toBe(403);
  });

  it('the middleware gives the route the details of an opaque token (from introspection)', async () => {
    const echo = await echoApi(h.issuer, CONTACTS, f.contacts);
    try {
      const { tokens } = await detailFlow(h, f.reader, f.user, [contactDetail(carol.id, 'Carol')], { scope: 'openid' });
      const seen = await (await fetch(`${echo.url}/`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
      expect(seen).toEqual({ format: 'opaque', authorizationDetails: [contactDetail(carol.id, 'Carol')] });
    } finally {
      await echo.close();
    }
  });
});

describe.each(STORES)('per-document grants of JWT access tokens and the connected-apps page (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let j: JournalFixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    j = await createJournal(h, { tokenFormat: 'jwt', otherResource: CONTACTS });
  });
  afterAll(async () => h?.close());

  it('a JWT access token carries authorization_details, and the middleware gives them to the route', async () => {
    const { tokens } = await detailFlow(h, j.app, f.user, [documentDetail('doc-5', ['read'])]);
    expect(decodeJwt(tokens.access_token).authorization_details).toEqual([documentDetail('doc-5', ['read'])]);
    const echo = await echoApi(h.issuer, JOURNAL, j.api);
    try {
      const seen = await (await fetch(`${echo.url}/`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
      expect(seen).toEqual({ format: 'jwt', authorizationDetails: [documentDetail('doc-5', ['read'])] });
    } finally {
      await echo.close();
    }
  });

  it('the connected-apps page lists each document and withdraws one: a refresh no longer carries it', async () => {
    const user = await h.management.accounts.create({ email: `writer-${store}@example.com`, password: 'a journal password' });
    const who = { email: user.email, password: 'a journal password' };
    const { tokens } = await detailFlow(h, j.app, who, [documentDetail('doc-42', ['read', 'comment'], 'Trip to Lisbon'), documentDetail('doc-7', ['read'], 'Recipes')]);

    const agent = new UserAgent();
    let page = await agent.follow(h.url('/account'), REDIRECT);
    const posted = await agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), { form: { csrf: hiddenField(page.body, 'csrf'), ...who } });
    page = await agent.follow(posted.location as string, REDIRECT);
    expect(page.body).toContain('Journal API: Read and comment on Trip to Lisbon (doc-42): read and comment');
    expect(page.body).toContain('Journal API: Read and comment on Recipes (doc-7): read');
    const grantId = /action="\/account\/apps\/([^/]+)\/withdraw-detail"/.exec(page.body)?.[1] as string;

    // Someone else's session cannot withdraw it (the grant is not theirs): nothing changes.
    const stranger = new UserAgent();
    let theirs = await stranger.follow(h.url('/account'), REDIRECT);
    const signedIn = await stranger.request(new URL(formAction(theirs.body, '/login'), theirs.url).toString(), { form: { csrf: hiddenField(theirs.body, 'csrf'), email: f.user.email, password: f.user.password } });
    theirs = await stranger.follow(signedIn.location as string, REDIRECT);
    await stranger.request(h.url(`/account/apps/${grantId}/withdraw-detail`), { form: { csrf: hiddenField(theirs.body, 'csrf'), type: 'document', identifier: 'doc-42' } });
    expect((await agent.follow(h.url('/account'), REDIRECT)).body).toContain('Trip to Lisbon (doc-42)');

    // A form without its CSRF value is refused.
    expect((await agent.request(h.url(`/account/apps/${grantId}/withdraw-detail`), { form: { type: 'document', identifier: 'doc-42' } })).status).toBe(403);

    const withdrawn = await agent.request(h.url(`/account/apps/${grantId}/withdraw-detail`), { form: { csrf: hiddenField(page.body, 'csrf'), type: 'document', identifier: 'doc-42' } });
    expect(withdrawn.status).toBe(303);
    expect(new URL(withdrawn.location as string, h.issuer).pathname).toBe('/account');
    const after = await agent.follow(h.url('/account'), REDIRECT);
    expect(after.body).not.toContain('Trip to Lisbon (doc-42)');
    expect(after.body).toContain('Recipes (doc-7)');

    // The JWT access token issued before cannot be narrowed: it is recalled (its status list bit).
    const echo = await echoApi(h.issuer, JOURNAL, j.api);
    try {
      expect((await fetch(`${echo.url}/`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(401);
    } finally {
      await echo.close();
    }
    const refreshed = await tokenRequest(h.issuer, { id: j.app.clientId, secret: j.app.clientSecret }, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.authorization_details).toEqual([documentDetail('doc-7', ['read'], 'Recipes')]);
    const echoAgain = await echoApi(h.issuer, JOURNAL, j.api);
    try {
      const seen = await (await fetch(`${echoAgain.url}/`, { headers: { authorization: `Bearer ${refreshed.body.access_token}` } })).json();
      expect(seen).toEqual({ format: 'jwt', authorizationDetails: [documentDetail('doc-7', ['read'], 'Recipes')] });
    } finally {
      await echoAgain.close();
    }
    const audit = await h.app.audit.list({ accountId: user.id, limit: 20 });
    expect(audit.some((e) => e.event === 'consent.changed' && JSON.stringify(e.details).includes('doc-42'))).toBe(true);
  });
});

describe.each(STORES)('withdrawing a document from opaque tokens issued before (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let j: JournalFixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    j = await createJournal(h, { otherResource: CONTACTS });
  });
  afterAll(async () => h?.close());

  it('introspection of an access token issued before no longer lists the withdrawn document', async () => {
    const { tokens } = await detailFlow(h, j.app, f.user, [documentDetail('doc-1', ['read']), documentDetail('doc-2', ['read'])]);
    const grantId = (await h.app.grants.forAccount(f.user.id))[0]?.grantId as string;
    const before = await introspect(h.issuer, { id: j.api.clientId, secret: j.api.clientSecret }, tokens.access_token);
    expect(before.authorization_details).toHaveLength(2);
    const details = createDetailGrants({ provider: h.app.provider, audit: h.app.audit, catalog: h.app.catalog });
    expect(await details.withdraw(grantId, f.user.id, { type: 'document', identifier: 'doc-1' }, { actor: 'user' })).toBe(true);
    const after = await introspect(h.issuer, { id: j.api.clientId, secret: j.api.clientSecret }, tokens.access_token);
    expect(after).toMatchObject({ active: true, authorization_details: [documentDetail('doc-2', ['read'])] });
  });
});
