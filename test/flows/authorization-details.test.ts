// Per-document access with rich authorization requests (RFC 9396), with openid-client (a real
// client library) on SQLite and PostgreSQL: the journal API declares the `document` type with a
// JSON Schema; an app asks to read and comment on documents; the user unticks an action; the
// token and introspection carry only what was approved; a refresh may narrow; an unknown type, a
// detail failing its schema or one outside the client's allow-list is invalid_authorization_details
// (hostile input too, as a 400); a large request goes through PAR.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { client, confidentialClient } from '../helpers/oauth.ts';
import { basic, introspect, tokenRequest } from '../helpers/token-requests.ts';
import { postForm } from '../helpers/dpop.ts';
import { createJournal, detailFlow, documentDetail, JOURNAL, type JournalFixtures } from '../helpers/documents.ts';

describe.each(STORES)('authorization details (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  let j: JournalFixtures;
  const api = () => ({ id: j.api.clientId, secret: j.api.clientSecret });
  const clientConfig = () => confidentialClient(h, j.app.clientId, j.app.clientSecret);

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    j = await createJournal(h, { otherResource: CONTACTS });
  });
  afterAll(async () => h?.close());

  /** A raw push to the PAR endpoint (RFC 9126): the provider's checks answer there as JSON. */
  const push = (who: { clientId: string; clientSecret: string }, authorizationDetails: string) =>
    postForm(
      h.url('/request'),
      { client_id: who.clientId, response_type: 'code', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', redirect_uri: REDIRECT, authorization_details: authorizationDetails },
      { authorization: basic(who.clientId, who.clientSecret) },
    );

  it('discovery lists the declared types', async () => {
    const metadata = (await (await fetch(h.url('/.well-known/openid-configuration'))).json()) as Record<string, unknown>;
    expect(metadata.authorization_details_types_supported).toEqual(['document']);
  });

  it('the consent page says what is asked in plain words; the token and introspection carry only what the user left ticked', async () => {
    const details = [documentDetail('doc-42', ['read', 'comment'], 'Trip to Lisbon'), documentDetail('doc-7', ['read'], 'Recipes')];
    const { tokens, consentPage } = await detailFlow(h, j.app, f.user, details, { untick: ['0:comment'] });
    expect(consentPage).toContain('Journal API: Read and comment on Trip to Lisbon (doc-42): read and comment');
    expect(consentPage).toContain('Read and comment on Recipes (doc-7): read');
    expect(consentPage).toMatch(/name="action-0" value="comment" checked/);
    const approved = [documentDetail('doc-42', ['read'], 'Trip to Lisbon'), documentDetail('doc-7', ['read'], 'Recipes')];
    expect(tokens.authorization_details).toEqual(approved);
    const answer = await introspect(h.issuer, api(), tokens.access_token);
    expect(answer).toMatchObject({ active: true, aud: JOURNAL, authorization_details: approved });
    // The refresh token keeps them: a refresh gets the same details.
    const refreshed = await client.refreshTokenGrant(await clientConfig(), tokens.refresh_token as string);
    expect(refreshed.authorization_details).toEqual(approved);
  });

  it('unticking every action of every document (and no scope to give) is a Deny', async () => {
    await expect(detailFlow(h, j.app, f.user, [documentDetail('doc-3', ['read'])], { scope: 'openid', untick: ['0:read'] })).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('a refresh may narrow to fewer documents or actions, never widen', async () => {
    const { tokens } = await detailFlow(h, j.app, f.user, [documentDetail('doc-1'), documentDetail('doc-2', ['read'])]);
    const narrowed = await tokenRequest(h.issuer, { id: j.app.clientId, secret: j.app.clientSecret }, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string, authorization_details: JSON.stringify([documentDetail('doc-1', ['comment'])]) });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.authorization_details).toEqual([documentDetail('doc-1', ['comment'])]);
    const wider = await tokenRequest(h.issuer, { id: j.app.clientId, secret: j.app.clientSecret }, { grant_type: 'refresh_token', refresh_token: narrowed.body.refresh_token as string, authorization_details: JSON.stringify([documentDetail('doc-2', ['comment'])]) });
    expect([wider.status, wider.body.error]).toEqual([400, 'invalid_authorization_details']);
  });

  it('a large request goes through PAR: forty documents, each named, all approved', async () => {
    const many = Array.from({ length: 40 }, (_, i) => documentDetail(`doc-${1000 + i}`, ['read', 'comment'], `Chapter ${i}: ${'a long and winding title '.repeat(6)}`.slice(0, 190)));
    expect(encodeURIComponent(JSON.stringify(many)).length).toBeGreaterThan(8192);
    const { tokens, url } = await detailFlow(h, j.app, f.user, many, { par: true });
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(tokens.authorization_details).toEqual(many);
  });

  it('an unknown type, a detail failing its schema, or a type outside the allow-list is invalid_authorization_details', async () => {
    const cases: Array<[{ clientId: string; clientSecret: string }, unknown[]]> = [
      [j.app, [{ type: 'spreadsheet', identifier: 'doc-42', actions: ['read'] }]],
      [j.app, [documentDetail('doc-42', ['delete'])]],
      [j.app, [{ type: 'document', identifier: 'not a document id', actions: ['read'] }]],
      [j.app, [{ ...documentDetail('doc-42'), extra: true }]],
      // The outsider's allow-list names only the Contacts API.
      [j.outsider, [documentDetail('doc-42')]],
    ];
    for (const [who, details] of cases) {
      const answer = await push(who, JSON.stringify(details));
      expect([answer.status, answer.body.error], JSON.stringify(details)).toEqual([400, 'invalid_authorization_details']);
    }
  });

  it('hostile input is a 400, never a 500', async () => {
    const hostile = [
      'not json',
      '{"type":"document"}',
      '[1,2,3]',
      JSON.stringify([{ ...documentDetail('doc-42'), name: 'evil\u0000name' }]),
      JSON.stringify(Array.from({ length: 51 }, (_, i) => documentDetail(`doc-${i}`))),
      JSON.stringify([documentDetail('doc-42', ['read'], 'x'.repeat(70_000))]),
      JSON.stringify([{ type: 'document', identifier: 'doc-1', actions: Array.from({ length: 10_000 }, () => 'read') }]),
      JSON.stringify([{ type: '__proto__' }]),
    ];
    for (const value of hostile) {
      const answer = await push(j.app, value);
      expect(answer.status, value.slice(0, 80)).toBe(400);
      expect(['invalid_authorization_details', 'invalid_request']).toContain(answer.body.error);
    }
  });

  it('a plain authorization request with an unknown type comes back to the app as invalid_authorization_details', async () => {
    const config = await clientConfig();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', authorization_details: JSON.stringify([{ type: 'spreadsheet' }]) });
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location') as string);
    expect(location.searchParams.get('error')).toBe('invalid_authorization_details');
  });

  it('client credentials cannot carry details: they need a user', async () => {
    const answer = await tokenRequest(h.issuer, { id: f.service.clientId, secret: f.service.clientSecret }, { grant_type: 'client_credentials', scope: 'contacts:read', authorization_details: JSON.stringify([documentDetail('doc-42')]) });
    expect(answer.status).toBe(400);
    expect(['invalid_authorization_details', 'invalid_target']).toContain(answer.body.error);
  });
});
