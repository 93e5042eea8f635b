// Clients of the server under test, built with openid-client (a real OAuth client library).
import * as client from 'openid-client';
import { consentFields, formAction, hiddenField, UserAgent, type PageResponse } from './user-agent.ts';

export async function confidentialClient(h: { issuer: string }, clientId: string, secret: string): Promise<client.Configuration> {
  const config = await client.discovery(new URL(h.issuer), clientId, secret, client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
  });
  return config;
}

export async function publicClient(h: { issuer: string }, clientId: string): Promise<client.Configuration> {
  return client.discovery(new URL(h.issuer), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
}

export interface AuthorizationRequest {
  url: URL;
  verifier: string;
  state: string;
}

export async function authorizationRequest(
  config: client.Configuration,
  params: { redirect_uri: string; scope: string; resource?: string; [name: string]: string | undefined },
): Promise<AuthorizationRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const extra = Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  const url = client.buildAuthorizationUrl(config, {
    ...extra,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  return { url, verifier, state };
}

/** Signs in on the login page (when shown) and answers the consent page (when shown). */
export async function completeInteraction(
  agent: UserAgent,
  start: string,
  redirectUri: string,
  { email, password, decision = 'approve' }: { email: string; password: string; decision?: 'approve' | 'deny' },
): Promise<PageResponse> {
  let page = await agent.follow(start, redirectUri);
  for (let step = 0; step < 4 && page.status === 200; step += 1) {
    const csrf = hiddenField(page.body, 'csrf');
    if (page.body.includes('/login"')) {
      const action = new URL(formAction(page.body, '/login'), page.url).toString();
      const posted = await agent.request(action, { form: { csrf, email, password } });
      if (posted.status !== 303 || !posted.location) return posted;
      page = await agent.follow(posted.location, redirectUri);
    } else if (page.body.includes('/consent"')) {
      const path = decision === 'approve' ? '/consent' : '/abort';
      const action = new URL(formAction(page.body, path), page.url).toString();
      // Approve as a browser would with the page's defaults: every scope ticked.
      const posted = await agent.request(action, { form: decision === 'approve' ? consentFields(page.body) : { csrf } });
      if (posted.status !== 303 || !posted.location) return posted;
      page = await agent.follow(posted.location, redirectUri);
    } else {
      return page;
    }
  }
  return page;
}

/** The full code + PKCE flow through login and consent; returns the token response. */
export async function codeFlow(
  config: client.Configuration,
  user: { email: string; password: string },
  params: { redirect_uri: string; scope: string; resource?: string },
  agent = new UserAgent(),
) {
  const request = await authorizationRequest(config, params);
  const final = await completeInteraction(agent, request.url.toString(), params.redirect_uri, user);
  if (!final.location?.startsWith(params.redirect_uri)) {
    throw new Error(`flow did not return to the client: ${final.status} ${final.location ?? final.body.slice(0, 300)}`);
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(final.location), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
  });
  return { tokens, callback: new URL(final.location), agent, request };
}

export { client };
