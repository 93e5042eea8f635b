// T29 deny and partial consent (ASVS 10.7.1, 10.7.3): Deny stores no grant and issues nothing;
// unticking contacts:write leaves a grant and tokens with contacts:read only; a later request
// for the same scopes asks again for the unticked one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, confidentialClient } from '../helpers/oauth.ts';
import { formAction, hiddenField, UserAgent } from '../helpers/user-agent.ts';
import { introspect } from '../helpers/token-requests.ts';
import { findPayloads } from '../../adapters/payload-queries.ts';
import { createSealer } from '../../adapters/at-rest.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('T29 deny and partial consent (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  async function consentPage(agent: UserAgent, email: string, scope = 'openid contacts:read contacts:write') {
    const config = await confidentialClient(h, f.editor.clientId, f.editor.clientSecret);
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope });
    let page = await agent.follow(request.url.toString(), REDIRECT);
    if (page.body.includes('/login"')) {
      const posted = await agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), { form: { csrf: hiddenField(page.body, 'csrf'), email, password: 'partial consent pw' } });
      page = await agent.follow(posted.location as string, REDIRECT);
    }
    return { config, request, page };
  }

  const grantsOf = async (accountId: string) => findPayloads(h.db, createSealer(h.keys.data), 'Grant', { accountId, clientId: f.editor.clientId });

  it('Deny: 303 to the app with access_denied, state and iss; no grant, no token', async () => {
    const user = await h.management.accounts.create({ email: `denier-${store}@example.com`, password: 'partial consent pw' });
    const agent = new UserAgent();
    const { request, page } = await consentPage(agent, user.email);
    const denied = await agent.request(new URL(formAction(page.body, '/abort'), page.url).toString(), { form: { csrf: hiddenField(page.body, 'csrf') } });
    expect(denied.status).toBe(303);
    const final = await agent.follow(denied.location as string, REDIRECT);
    const callback = new URL(final.location as string);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('iss')).toBe(h.issuer);
    expect(callback.searchParams.get('code')).toBeNull();
    expect(await grantsOf(user.id)).toEqual([]);
  });

  it('unticking contacts:write: grant and token carry contacts:read only; a later request asks again for write', async () => {
    const user = await h.management.accounts.create({ email: `partial-${store}@example.com`, password: 'partial consent pw' });
    const agent = new UserAgent();
    const { config, request, page } = await consentPage(agent, user.email);
    const posted = await agent.request(new URL(formAction(page.body, '/consent'), page.url).toString(), {
      form: [
        ['csrf', hiddenField(page.body, 'csrf')],
        ['scope', 'contacts:read'],
      ],
    });
    const final = await agent.follow(posted.location as string, REDIRECT);
    const tokens = await client.authorizationCodeGrant(config, new URL(final.location as string), { pkceCodeVerifier: request.verifier, expectedState: request.state });
    expect(tokens.scope).toBe('contacts:read');
    expect(await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, tokens.access_token)).toMatchObject({ active: true, scope: 'contacts:read' });
    const [grant] = await grantsOf(user.id);
    const granted = (grant?.resources as Record<string, string>)[f.contacts.id]?.split(' ') ?? [];
    const rejected = ((grant?.rejected as { resources?: Record<string, string> } | undefined)?.resources?.[f.contacts.id] ?? '').split(' ');
    expect(granted.filter((s) => !rejected.includes(s))).toEqual(['contacts:read']);

    const again = await consentPage(agent, user.email);
    expect(again.page.status).toBe(200);
    expect(again.page.body).toContain('value="contacts:write"');
    expect(again.page.body).not.toContain('value="contacts:read"');
  });
});
