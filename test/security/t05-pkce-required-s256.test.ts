// T5 PKCE is required for every client, S256 only (RFC 9700 §2.1.1; OAuth 2.1; ASVS 10.4.6;
// oidc-provider test/pkce; pitfall 2: the library default exempts confidential clients).
//
// For a confidential client (C) and a public one (P), an authorization request without a
// challenge, with `plain`, with a challenge but no method (which must not fall back to plain), or
// with a malformed challenge (shorter than 43, longer than 128, characters outside the base64url
// alphabet) is answered with `303` to the registered URI carrying `error=invalid_request` — and
// never reaches the login page, so no code can exist for it. Discovery advertises exactly S256.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authParams, pkce, send, target } from './support.ts';

describe.each(STORES)('T5 PKCE required for every client, S256 only (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const plain = 'p'.repeat(50);
  const refused: Array<[string, Record<string, string | undefined>]> = [
    ['no code_challenge, no method', { code_challenge: undefined, code_challenge_method: undefined }],
    ['no code_challenge, method S256', { code_challenge: undefined }],
    ['code_challenge_method=plain', { code_challenge: plain, code_challenge_method: 'plain' }],
    ['a challenge without a method (no fallback to plain)', { code_challenge: plain, code_challenge_method: undefined }],
    ['challenge of 42 characters', { code_challenge: 'a'.repeat(42) }],
    ['challenge of 129 characters', { code_challenge: 'a'.repeat(129) }],
    ['challenge with characters outside base64url', { code_challenge: `${'a'.repeat(40)}+/=` }],
    ['challenge with a space', { code_challenge: `${'a'.repeat(21)} ${'a'.repeat(21)}` }],
  ];

  for (const kind of ['confidential', 'public'] as const) {
    it(`refuses a request without a proper S256 challenge (${kind} client)`, async () => {
      const clientId = kind === 'confidential' ? f.reader.clientId : f.spa.clientId;
      for (const [label, overrides] of refused) {
        const { params, state } = authParams(clientId, REDIRECT, 'openid contacts:read', overrides);
        const response = await send(h.url(`/auth?${params}`));
        expect(response.status, label).toBe(303);
        expect(target(response.location as string), label).toBe(REDIRECT);
        const answer = new URL(response.location as string).searchParams;
        expect(answer.get('error'), label).toBe('invalid_request');
        expect(answer.get('state'), label).toBe(state);
        expect(answer.get('iss'), label).toBe(h.issuer);
        expect(answer.get('code'), label).toBeNull();
      }
    });

    it(`accepts S256 challenges at both length limits (${kind} client, control)`, async () => {
      const clientId = kind === 'confidential' ? f.reader.clientId : f.spa.clientId;
      for (const challenge of [pkce().challenge, 'A'.repeat(128)]) {
        const { params } = authParams(clientId, REDIRECT, 'openid contacts:read', { code_challenge: challenge });
        const response = await send(h.url(`/auth?${params}`));
        expect(response.status).toBe(303);
        expect(response.location).toMatch(new RegExp(`^${h.issuer}/interaction/`));
      }
    });
  }

  it('discovery advertises exactly S256', async () => {
    const metadata = (await send(h.url('/.well-known/openid-configuration'))).json();
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    const oauth = (await send(h.url('/.well-known/oauth-authorization-server'))).json();
    expect(oauth.code_challenge_methods_supported).toEqual(['S256']);
  });
});
