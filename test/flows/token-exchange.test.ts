// Delegation chains (RFC 8693): a resource server exchanges the token it received for one to
// another API, with openid-client's generic grant request, on SQLite and PostgreSQL. The consent
// page names the chain; the result is bounded by the grant, the caller and the subject token;
// `act` names the chain; revoking the grant ends every exchanged token at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CALENDAR, CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, codeFlow, completeInteraction, confidentialClient } from '../helpers/oauth.ts';
import { UserAgent } from '../helpers/user-agent.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const NOTES = 'https://notes.api.test';

describe.each(STORES)('token exchange (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let notes: { clientId: string; clientSecret: string };
  let chainApp: { clientId: string; clientSecret: string };
  let userCount = 0;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    const created = await h.management.resources.add({ id: NOTES, name: 'Notes API', tokenFormat: 'jwt', scopes: [{ scope: 'notes:read', description: 'Read your notes' }] });
    notes = { clientId: created.clientId, clientSecret: created.clientSecret };
    // Contacts API may call Calendar API for the user; Calendar API may call Notes API.
    await h.management.resources.update(CONTACTS, { mayExchangeFor: [CALENDAR] });
    await h.management.resources.update(CALENDAR, { mayExchangeFor: [NOTES] });
    const app = await h.management.clients.add({
      name: 'Chain App',
      redirectUris: [REDIRECT],
      scope: 'openid offline_access contacts:read calendar:read notes:read',
      resources: [CONTACTS, CALENDAR, NOTES],
    });
    chainApp = { clientId: app.clientId, clientSecret: app.clientSecret as string };
    await h.app.catalog.reload();
  });
  afterAll(async () => h?.close());

  const contactsRs = () => ({ id: f.contacts.clientId, secret: f.contacts.clientSecret });
  const calendarRs = () => ({ id: f.calendar.clientId, secret: f.calendar.clientSecret });

  async function freshUser() {
    userCount += 1;
    const password = 'exchange password';
    const user = await h.management.accounts.create({ email: `chain${userCount}-${store}@example.com`, password });
    return { id: user.id, email: user.email, password };
  }

  /** The app's token for the Contacts API, from a grant that also holds `alsoScope`. */
  async function contactsToken(scope = 'openid offline_access contacts:read calendar:read notes:read') {
    const user = await freshUser();
    const app = await confidentialClient(h, chainApp.clientId, chainApp.clientSecret);
    const request = await authorizationRequest(app, { redirect_uri: REDIRECT, scope, prompt: 'consent' });
    const agent = new UserAgent();
    const done = await completeInteraction(agent, request.url.toString(), REDIRECT, user);
    const tokens = await client.authorizationCodeGrant(app, new URL(done.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state }, { resource: CONTACTS });
    return { user, app, tokens, agent };
  }

  const exchange = (credentials: { id: string; secret: string }, fields: Record<string, string>) =>
    tokenRequest(h.issuer, credentials, { grant_type: EXCHANGE, subject_token_type: ACCESS_TOKEN, ...fields });

  it('the consent page says which API may also use which for the user', async () => {
    const app = await confidentialClient(h, chainApp.clientId, chainApp.clientSecret);
    const request = await authorizationRequest(app, { redirect_uri: REDIRECT, scope: 'openid contacts:read calendar:read' });
    const agent = new UserAgent();
    let page = await agent.follow(request.url.toString(), REDIRECT);
    const user = await freshUser();
    const { formAction, hiddenField } = await import('../helpers/user-agent.ts');
    const posted = await agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), { form: { csrf: hiddenField(page.body, 'csrf'), email: user.email, password: user.password } });
    page = await agent.follow(posted.location as string, REDIRECT);
    expect(page.body).toContain('Contacts API may also use Calendar API for you: see your calendar.');
  });

  it('exchanges a Contacts API token for a Calendar API token bounded by the grant, with act', async () => {
    const { user, tokens, agent } = await contactsToken();
    expect(await introspect(h.issuer, contactsRs(), tokens.access_token)).toMatchObject({ active: true, aud: CONTACTS });
    const contactsRsClient = await confidentialClient(h, f.contacts.clientId, f.contacts.clientSecret);
    const exchanged = await client.genericGrantRequest(contactsRsClient, EXCHANGE, { subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN, resource: CALENDAR });
    expect(exchanged).toMatchObject({ issued_token_type: ACCESS_TOKEN, token_type: 'bearer', scope: 'calendar:read' });
    expect(exchanged.refresh_token).toBeUndefined();
    expect(exchanged.expires_in).toBeLessThanOrEqual(tokens.expires_in as number);
    const seen = await introspect(h.issuer, calendarRs(), exchanged.access_token);
    expect(seen).toMatchObject({ active: true, aud: CALENDAR, scope: 'calendar:read', sub: user.id, client_id: chainApp.clientId, act: { sub: f.contacts.clientId } });
    // The caller cannot read its own exchanged token: it is for the Calendar API only.
    expect(await introspect(h.issuer, contactsRs(), exchanged.access_token)).toEqual({ active: false });
    // The user's activity trail has it under the original app, through the Contacts API.
    await h.app.audit.idle();
    const trail = await h.app.audit.list({ accountId: user.id, clientId: chainApp.clientId });
    expect(trail.find((e) => e.event === 'token.exchanged')?.details).toMatchObject({ through: CONTACTS, resource: CALENDAR, scope: 'calendar:read' });
    // And the connected-apps page says it in words, on the app's card.
    const account = await agent.follow(h.url('/account'), h.url('/nowhere'));
    expect(account.status).toBe(200);
    expect(account.body).toContain('Chain App, through Contacts API, see your calendar');
  });

  it('chains go on with a nested act, into a JWT that carries it', async () => {
    const { tokens } = await contactsToken();
    const toCalendar = await exchange(contactsRs(), { subject_token: tokens.access_token, resource: CALENDAR });
    expect(toCalendar.status).toBe(200);
    const toNotes = await exchange(calendarRs(), { subject_token: toCalendar.body.access_token as string, resource: NOTES });
    expect(toNotes.status, JSON.stringify(toNotes.body)).toBe(200);
    const claims = jose.decodeJwt(toNotes.body.access_token as string);
    expect(claims).toMatchObject({ aud: NOTES, scope: 'notes:read', act: { sub: f.calendar.clientId, act: { sub: f.contacts.clientId } } });
    // Notes API may not exchange at all: its credentials do not have the grant type (oidc-provider
    // answers invalid_request for a grant type the client may not use); Contacts API may not go
    // to Notes API directly.
    const fromNotes = await exchange({ id: notes.clientId, secret: notes.clientSecret }, { subject_token: tokens.access_token, resource: CONTACTS });
    expect(fromNotes.body).toMatchObject({ error: 'invalid_request', error_description: 'requested grant type is not allowed for this client' });
    expect((await exchange(contactsRs(), { subject_token: tokens.access_token, resource: NOTES })).body.error).toBe('invalid_target');
  });

  it('never wider than the grant, never another API’s token, never a fallback', async () => {
    const { tokens } = await contactsToken('openid offline_access contacts:read');
    // The user granted nothing on the Calendar API.
    const nothing = await exchange(contactsRs(), { subject_token: tokens.access_token, resource: CALENDAR });
    expect(nothing).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    const full = await contactsToken();
    expect((await exchange(contactsRs(), { subject_token: full.tokens.access_token, resource: CALENDAR, scope: 'calendar:read calendar:write' })).body.error).toBe('invalid_scope');
    // The subject token must have been issued to the caller.
    const forCalendar = await exchange(contactsRs(), { subject_token: full.tokens.access_token, resource: CALENDAR });
    expect((await exchange(contactsRs(), { subject_token: forCalendar.body.access_token as string, resource: CALENDAR })).body.error).toBe('invalid_grant');
    expect((await exchange(contactsRs(), { subject_token: 'not-a-token', resource: CALENDAR })).body.error).toBe('invalid_grant');
    expect((await exchange(contactsRs(), { subject_token: full.tokens.access_token })).body.error).toBe('invalid_target');
    expect((await exchange(contactsRs(), { subject_token: full.tokens.access_token, resource: CALENDAR, subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })).body.error).toBe('invalid_request');
    expect((await exchange(contactsRs(), { subject_token: full.tokens.access_token, resource: CALENDAR, audience: CALENDAR })).body.error).toBe('invalid_target');
    // An app cannot use the grant, only a resource server allowed to.
    const asApp = await exchange({ id: chainApp.clientId, secret: chainApp.clientSecret }, { subject_token: full.tokens.access_token, resource: CALENDAR });
    expect(asApp.body).toMatchObject({ error: 'invalid_request', error_description: 'requested grant type is not allowed for this client' });
    // A refresh token cannot be exchanged as if it were an access token.
    expect((await exchange(contactsRs(), { subject_token: full.tokens.refresh_token as string, resource: CALENDAR })).body.error).toBe('invalid_grant');
  });

  it('revoking the original grant ends every exchanged token at once; a disabled user exchanges nothing', async () => {
    const { user, tokens } = await contactsToken();
    const exchanged = await exchange(contactsRs(), { subject_token: tokens.access_token, resource: CALENDAR });
    expect((await introspect(h.issuer, calendarRs(), exchanged.body.access_token as string)).active).toBe(true);
    const [grant] = await h.app.grants.forAccount(user.id);
    await h.app.grants.revoke(grant?.grantId as string, { actor: 'user' });
    expect(await introspect(h.issuer, calendarRs(), exchanged.body.access_token as string)).toEqual({ active: false });

    const other = await contactsToken();
    await h.management.accounts.setDisabled(other.user.id, true);
    expect((await exchange(contactsRs(), { subject_token: other.tokens.access_token, resource: CALENDAR })).body.error).toBe('invalid_grant');
  });

  it('the operator sets who may exchange for what, and only for APIs that exist', async () => {
    await expect(h.management.resources.update(CONTACTS, { mayExchangeFor: ['https://nowhere.api.test'] })).rejects.toThrow(/unknown resource server/);
    await expect(h.management.resources.update(CONTACTS, { mayExchangeFor: [CONTACTS] })).rejects.toThrow(/itself/);
    await expect(h.management.resources.update(CONTACTS, { mayExchangeFor: [`${h.issuer}/admin`] })).rejects.toThrow(/unknown resource server/);
    const listed = (await h.management.resources.list()).find((r) => r.id === CALENDAR);
    expect(listed?.mayExchangeFor).toEqual([NOTES]);
    // Taking the permission away takes the grant type away from its credentials.
    await h.management.resources.update(CALENDAR, { mayExchangeFor: [] });
    await h.app.catalog.reload();
    const { tokens } = await contactsToken();
    const toCalendar = await exchange(contactsRs(), { subject_token: tokens.access_token, resource: CALENDAR });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await exchange(calendarRs(), { subject_token: toCalendar.body.access_token as string, resource: NOTES })).body.error).toBe('invalid_request');
    await h.management.resources.update(CALENDAR, { mayExchangeFor: [NOTES] });
  });
});
