// T30 the user can review and revoke (ASVS 10.4.9, 10.7.3): the connected-apps page lists the
// app, its scopes, its APIs and the grant date; revoking (POST with CSRF, 303) makes its access
// tokens inactive and its refresh tokens invalid_grant within one request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T30 review and revoke (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  it('lists the app with scopes, API and date; revoking kills its tokens at once', async () => {
    const agent = new UserAgent();
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const { tokens } = await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' }, agent);

    let page = await agent.follow(h.url('/account'), REDIRECT);
    if (page.status === 303 && page.location) page = await agent.follow(page.location, REDIRECT);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Contacts Reader');
    expect(page.body).toContain('Contacts API');
    expect(page.body).toContain('Read your contacts — read-only');
    expect(page.body).toMatch(/Access given<\/dt><dd>[^<]*\d{4}/);

    const action = formAction(page.body, '/revoke');
    const revoked = await agent.request(h.url(action), { form: { csrf: hiddenField(page.body, 'csrf') } });
    expect(revoked.status).toBe(303);
    expect(await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, tokens.access_token)).toEqual({ active: false });
    const refresh = await tokenRequest(h.issuer, { id: f.reader.clientId, secret: f.reader.clientSecret }, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});
