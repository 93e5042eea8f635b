// T7 PKCE downgrade refused (RFC 9700 §4.8.2; oidc-provider lib/helpers/pkce.js
// `if (verifier || challenge)`; Keycloak PR #26808; zitadel/oidc #741).
//
// The attack needs a code issued without a challenge, which no Latchkey client can obtain
// (T5 covers operator-created confidential and public clients; here dynamically registered
// clients too, the one client class whose metadata the requester writes). The guard itself is
// therefore exercised with codes minted through the provider's own AuthorizationCode model —
// exactly what an exempted client would receive: a token request for a challenge-less code
// that carries any `code_verifier` is `400 invalid_grant`. Control: a code minted the same way
// *with* a challenge redeems with its verifier, so the refusal is the downgrade rule. (Errors for
// unverified, self-registered clients reach the client through a "you are leaving" page, T32.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CONTACTS, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authParams, onwardLocation, pkce, redeemCode, register, send, target } from './support.ts';

describe.each(STORES)('T7 PKCE downgrade refused (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  /** A code for the reader app, minted by the provider as the authorization endpoint would. */
  async function mintCode(challenge?: string): Promise<string> {
    const { provider } = h.app;
    const client = await provider.Client.find(f.reader.clientId);
    if (!client) throw new Error('reader client not found');
    const grant = new provider.Grant({ accountId: f.user.id, clientId: f.reader.clientId });
    grant.addOIDCScope('openid');
    grant.addResourceScope(CONTACTS, 'contacts:read');
    const grantId = await grant.save();
    const code = new provider.AuthorizationCode({
      accountId: f.user.id,
      client,
      grantId,
      authTime: Math.floor(Date.now() / 1000),
      redirectUri: REDIRECT,
      resource: CONTACTS,
      scope: 'openid contacts:read',
      ...(challenge ? { codeChallenge: challenge, codeChallengeMethod: 'S256' } : {}),
    } as never);
    return code.save();
  }

  const reader = () => ({ id: f.reader.clientId, secret: f.reader.clientSecret });

  it('a code issued without a challenge is refused when the token request carries a verifier', async () => {
    for (const verifier of [pkce().verifier, pkce(128).verifier]) {
      const code = await mintCode();
      const answer = await redeemCode(h, reader(), { code, redirect_uri: REDIRECT, code_verifier: verifier });
      expect(answer.status).toBe(400);
      expect(answer.json().error).toBe('invalid_grant');
      expect(answer.json().access_token).toBeUndefined();
    }
  });

  it('control: a code minted the same way with a challenge redeems with its verifier', async () => {
    const pair = pkce();
    const code = await mintCode(pair.challenge);
    const answer = await redeemCode(h, reader(), { code, redirect_uri: REDIRECT, code_verifier: pair.verifier });
    expect(answer.status).toBe(200);
    expect(answer.json().access_token).toEqual(expect.any(String));
  });

  it('no dynamically registered client is exempt from PKCE', async () => {
    for (const metadata of [
      { redirect_uris: [REDIRECT] },
      { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' },
      { redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', application_type: 'native' },
    ]) {
      const registered = await register(h, { ...metadata, scope: 'openid', resource_scopes: { [CONTACTS]: 'contacts:read' } });
      expect(registered.status).toBe(201);
      const clientId = registered.json<{ client_id: string }>().client_id;
      const redirectUri = metadata.redirect_uris[0] as string;
      const { params } = authParams(clientId, redirectUri, 'openid contacts:read', { code_challenge: undefined, code_challenge_method: undefined });
      const response = await send(h.url(`/auth?${params}`));
      // Refused at once (never on to the login page), whether by a redirect or, for an unverified
      // client, through the "you are leaving" page (T32).
      expect(response.location ?? '', JSON.stringify(metadata)).not.toContain('/interaction/');
      const onward = onwardLocation(response, redirectUri);
      expect(onward, `${JSON.stringify(metadata)} → ${response.status}`).toBeDefined();
      expect(target(onward as string)).toBe(redirectUri);
      expect(new URL(onward as string).searchParams.get('error')).toBe('invalid_request');
      expect(new URL(onward as string).searchParams.get('code')).toBeNull();
    }
  });
});
