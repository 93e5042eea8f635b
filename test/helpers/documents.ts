// Seed 4 of the story: an online journal whose API declares the authorization-detail type
// `document` (RFC 9396), and an app that asks to read and comment on one document. Shared by the
// flow, account and browser tests of per-document access.
import type { Harness } from './harness.ts';
import { REDIRECT } from './fixtures.ts';
import { client, confidentialClient } from './oauth.ts';
import { consentFields, formAction, hiddenField, UserAgent, type PageResponse } from './user-agent.ts';

export const JOURNAL = 'https://journal.api.test';

export const DOCUMENT_SCHEMA = {
  type: 'object',
  required: ['type', 'identifier', 'actions'],
  properties: {
    type: { const: 'document' },
    identifier: { type: 'string', pattern: '^doc-[0-9]{1,10}$' },
    name: { type: 'string', maxLength: 200 },
    actions: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['read', 'comment'] } },
  },
  additionalProperties: false,
};

export const DOCUMENT_DESCRIBE = 'Read and comment on {name} ({identifier}): {actions}';

export interface JournalFixtures {
  api: { clientId: string; clientSecret: string };
  app: { clientId: string; clientSecret: string };
  /** An app allowed only other APIs: the journal's types are not on its allow-list. */
  outsider: { clientId: string; clientSecret: string };
}

export async function createJournal(h: Harness, { tokenFormat = 'opaque' as 'opaque' | 'jwt', otherResource }: { tokenFormat?: 'opaque' | 'jwt'; otherResource: string }): Promise<JournalFixtures> {
  const api = await h.management.resources.add({
    id: JOURNAL,
    name: 'Journal API',
    tokenFormat,
    scopes: [{ scope: 'journal:read', description: 'Read every document of your journal' }],
    authorizationDetailTypes: [{ type: 'document', schema: DOCUMENT_SCHEMA, describe: DOCUMENT_DESCRIBE }],
  });
  // A fixed id: the consent page's screenshot stays the same from run to run.
  const app = await h.management.clients.add({ clientId: 'journal-app', name: 'Journal App', redirectUris: [REDIRECT], scope: 'openid offline_access journal:read', resources: [JOURNAL] });
  const outsider = await h.management.clients.add({ name: 'Outsider', redirectUris: [REDIRECT], scope: 'openid', resources: [otherResource] });
  await h.app.catalog.reload();
  return {
    api: { clientId: api.clientId, clientSecret: api.clientSecret },
    app: { clientId: app.clientId, clientSecret: app.clientSecret as string },
    outsider: { clientId: outsider.clientId, clientSecret: outsider.clientSecret as string },
  };
}

export function documentDetail(identifier: string, actions = ['read', 'comment'], name = `Document ${identifier}`) {
  return { type: 'document', identifier, name, actions };
}

/** The ticked action checkboxes of the consent page (name="action-INDEX"), minus `untick` ("INDEX:action"). */
export function actionFields(html: string, untick: readonly string[] = []): Array<[string, string]> {
  return [...html.matchAll(/<input type="checkbox"[^>]*name="action-(\d+)" value="([^"]*)"[^>]*>/g)]
    .filter((match) => !untick.includes(`${match[1]}:${match[2]}`))
    .map((match): [string, string] => [`action-${match[1]}`, match[2] as string]);
}

/** Signs in and answers the consent page, leaving `untick` (values "index:action") unticked. */
export async function consentTo(agent: UserAgent, start: string, user: { email: string; password: string }, untick: readonly string[] = []): Promise<{ final: PageResponse; consentPage?: string }> {
  let page = await agent.follow(start, REDIRECT);
  let consentPage: string | undefined;
  for (let step = 0; step < 4 && page.status === 200; step += 1) {
    const csrf = hiddenField(page.body, 'csrf');
    if (page.body.includes('/login"')) {
      const posted = await agent.request(new URL(formAction(page.body, '/login'), page.url).toString(), { form: { csrf, email: user.email, password: user.password } });
      if (posted.status !== 303 || !posted.location) return { final: posted };
      page = await agent.follow(posted.location, REDIRECT);
    } else if (page.body.includes('/consent"')) {
      consentPage = page.body;
      const posted = await agent.request(new URL(formAction(page.body, '/consent'), page.url).toString(), { form: consentFields(page.body, actionFields(page.body, untick)) });
      if (posted.status !== 303 || !posted.location) return { final: posted, consentPage };
      page = await agent.follow(posted.location, REDIRECT);
    } else break;
  }
  return { final: page, consentPage };
}

/** The whole code flow with `authorization_details`, by PAR when `par`; returns the token response. */
export async function detailFlow(
  h: Harness,
  app: { clientId: string; clientSecret: string },
  user: { email: string; password: string },
  details: unknown[],
  { untick = [], par = false, scope = 'openid offline_access' }: { untick?: string[]; par?: boolean; scope?: string } = {},
) {
  const config = await confidentialClient(h, app.clientId, app.clientSecret);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const params = {
    redirect_uri: REDIRECT,
    scope,
    prompt: 'consent',
    state,
    authorization_details: JSON.stringify(details),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  const url = par
    ? await client.buildAuthorizationUrlWithPAR(config, params).catch((e: { error?: string; error_description?: string }) => {
        throw new Error(`PAR refused: ${e.error}: ${e.error_description}`);
      })
    : client.buildAuthorizationUrl(config, params);
  const { final, consentPage } = await consentTo(new UserAgent(), url.toString(), user, untick);
  if (!final.location?.startsWith(REDIRECT)) throw new Error(`flow did not return to the client: ${final.status} ${final.location ?? final.body.slice(0, 300)}`);
  const error = new URL(final.location).searchParams.get('error');
  if (error) throw Object.assign(new Error(`${error}: ${new URL(final.location).searchParams.get('error_description')}`), { error });
  const tokens = await client.authorizationCodeGrant(config, new URL(final.location), { pkceCodeVerifier: verifier, expectedState: state });
  return { tokens, config, consentPage: consentPage ?? '', url };
}
