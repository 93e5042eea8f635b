// The account area's old OAuth client (RETIRED_ACCOUNT_CLIENT_ID, a `system` row in the clients table
// with a grant per user who opened /account) is gone after a start, also from a database an
// older version wrote, and sessions that older version signed in keep working: /account, silent
// authorization, the logout page and logout itself. An operator's own client that takes the id
// later is not touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';
import { createSealer } from '../../adapters/at-rest.ts';
import { updatePayload } from '../../adapters/payload-queries.ts';
import { RETIRED_ACCOUNT_CLIENT_ID as OLD_CLIENT } from '../../server/services/account-area.ts';

describe.each(STORES)('the retired account-area client (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  const upgraded: Harness[] = [];

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => {
    for (const instance of upgraded) await instance.close();
    await h?.close();
  });

  /** Another instance of this version starting on the same database: an upgrade, or a restart. */
  async function restart() {
    const instance = await startServer({ store, sameDatabaseAs: h });
    upgraded.push(instance);
    return instance;
  }

  /**
   * The row the previous version's start-up wrote (its bootstrap.ts `ensureAccountClient`,
   * through ClientStore.ensureSystemClient): the same columns and metadata.
   */
  async function writeOldClientRow() {
    const metadata = {
      client_id: OLD_CLIENT,
      client_name: 'Your account',
      application_type: 'web',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${h.issuer}/account/callback`],
      token_endpoint_auth_method: 'none',
      scope: 'openid',
      resource_scopes: {},
    };
    const now = Date.now();
    await h.db('clients')
      .insert({ client_id: OLD_CLIENT, metadata: JSON.stringify(metadata), secret_sealed: null, kind: 'app', source: 'system', verified: true, created_at: now, updated_at: now })
      .onConflict('client_id')
      .merge(['metadata', 'updated_at', 'source']);
  }

  it('a fresh start has no such client, nor any other of the server\'s own', async () => {
    expect(await h.db('clients').where({ client_id: OLD_CLIENT })).toEqual([]);
    expect(await h.db('clients').where({ source: 'system' })).toEqual([]);
  });

  it('upgrading removes the client and its grants; a session signed in through it keeps working', async () => {
    const who = await h.management.accounts.create({ email: `upgrade-${store}@example.com`, password: 'upgrade password 1' });
    const credentials = { email: who.email, password: 'upgrade password 1' };
    // What the previous version left: its client, and a user who connected an app and opened
    // /account in the same session, which gave the old client a grant and a place in the session.
    await writeOldClientRow();
    const agent = new UserAgent();
    const reader = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { tokens } = await codeFlow(reader, credentials, { redirect_uri: REDIRECT, scope: 'openid contacts:read' }, agent);
    const oldGrant = new h.app.provider.Grant({ accountId: who.id, clientId: OLD_CLIENT });
    oldGrant.addOIDCScope('openid');
    const oldGrantId = await oldGrant.save();
    const sessionId = /(?:^|; )latchkey\.session=([^;]+)/.exec(agent.cookieHeader(h.url('/')))?.[1] as string;
    const written = await updatePayload(h.db, createSealer(h.keys.data), 'Session', sessionId, (payload) => ({
      ...payload,
      authorizations: { ...(payload.authorizations as object), [OLD_CLIENT]: { sid: 'old-account-sid', grantId: oldGrantId } },
    }));
    expect(Object.keys((written?.authorizations as object) ?? {})).toEqual([f.reader.clientId, OLD_CLIENT]);
    expect((await h.app.grants.forAccount(who.id)).map((g) => g.clientId).sort()).toEqual([f.reader.clientId, OLD_CLIENT].sort());

    const next = await restart();

    expect(await next.db('clients').where({ client_id: OLD_CLIENT })).toEqual([]);
    expect(await next.app.grants.find(oldGrantId)).toBeUndefined();
    expect((await next.app.grants.forAccount(who.id)).map((g) => g.clientId)).toEqual([f.reader.clientId]);
    expect((await next.management.admin.grants.list({ user: who.email })).grants.map((g) => g.client_id)).toEqual([f.reader.clientId]);

    // The old session, on the new version: no new sign-in, the app listed, nothing else.
    const account = await agent.request(next.url('/account'));
    expect(account.status).toBe(200);
    expect(account.body).toContain(`Signed in as ${who.email}`);
    expect(account.body).toContain('Contacts Reader');
    expect(account.body).not.toContain(OLD_CLIENT);
    expect([...account.body.matchAll(/<h2 id="app-[^"]*">([^<]*)<\/h2>/g)].map((m) => m[1])).toEqual(['Contacts Reader']);
    // Silent authorization still recognises it.
    const silent = await authorizationRequest(await confidentialClient(next, f.reader.clientId, f.reader.clientSecret), { redirect_uri: REDIRECT, scope: 'openid contacts:read', prompt: 'none' });
    const answer = await agent.request(silent.url.toString());
    expect(new URL(answer.location as string).searchParams.get('code')).toBeTruthy();
    // The logout page names the app and not the retired client; logging out works and ends the app's session access.
    const logout = await agent.request(next.url('/session/end'));
    expect(logout.status).toBe(200);
    const ending = /lose the access[^<]*<\/p>\s*<ul>([\s\S]*?)<\/ul>/.exec(logout.body)?.[1] ?? '';
    expect([...ending.matchAll(/<li>([^<]*)<\/li>/g)].map((m) => m[1])).toEqual(['Contacts Reader']);
    expect(logout.body).not.toContain(OLD_CLIENT);
    const confirmed = await agent.request(next.url('/session/end/confirm'), { form: { xsrf: hiddenField(logout.body, 'xsrf'), logout: 'yes' } });
    expect(confirmed.status).toBe(303);
    const refresh = await tokenRequest(next.issuer, { id: f.reader.clientId, secret: f.reader.clientSecret }, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
    expect(refresh.body.error).toBe('invalid_grant');
    expect((await agent.request(next.url('/account'))).location).toBe(next.url('/account/sign-in'));
  });

  it('an older instance restarting puts the row back; the next start of this version removes it again', async () => {
    await writeOldClientRow();
    const grant = new h.app.provider.Grant({ accountId: f.user.id, clientId: OLD_CLIENT });
    grant.addOIDCScope('openid');
    const grantId = await grant.save();
    const next = await restart();
    expect(await next.db('clients').where({ client_id: OLD_CLIENT })).toEqual([]);
    expect(await next.app.grants.find(grantId)).toBeUndefined();
  });

  it("an operator's own client that takes the id later is left alone, with its grants", async () => {
    await writeOldClientRow();
    await h.db('clients').where({ client_id: OLD_CLIENT }).update({ source: 'cli' });
    const grant = new h.app.provider.Grant({ accountId: f.user.id, clientId: OLD_CLIENT });
    grant.addOIDCScope('openid');
    const grantId = await grant.save();
    const next = await restart();
    expect(await next.db('clients').where({ client_id: OLD_CLIENT }).select('source')).toEqual([{ source: 'cli' }]);
    expect((await next.app.grants.find(grantId))?.clientId).toBe(OLD_CLIENT);
    await next.db('clients').where({ client_id: OLD_CLIENT }).del();
  });
});
