// T10 `iss` and `state` in every authorization response (RFC 9207 §2, §3; RFC 9700 §4.4.2;
// oidc-provider test/iss).
//
// Success, access_denied (the user clicks Deny), consent_required and login_required
// (prompt=none) and invalid_scope all come back to the registered URI with `303`, exactly one
// `iss` equal to the issuer, and `state` byte-identical to what was sent — a 500-character state
// with `%`, `+`, spaces, reserved characters, quotes, non-ASCII and astral characters.
// Discovery advertises `authorization_response_iss_parameter_supported: true`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { completeInteraction } from '../helpers/oauth.ts';
import { UserAgent } from '../helpers/user-agent.ts';
import { authParams, obtainCode, send, target } from './support.ts';

const HEAD = `100% a+b c%20d %2B&x=y#frag?q/é ü 漢字 😀 '"<>\\ ;,`;
const STATE = `${HEAD}${'s'.repeat(500 - HEAD.length)}`;

describe.each(STORES)('T10 iss and state in every authorization response (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  const agent = new UserAgent();

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  function expectResponse(location: string | undefined, state: string, expected: { error?: string; code?: boolean }) {
    expect(location).toBeDefined();
    expect(target(location as string)).toBe(REDIRECT);
    const answer = new URL(location as string).searchParams;
    expect(answer.getAll('iss')).toEqual([h.issuer]);
    expect(answer.getAll('state')).toEqual([state]);
    if (expected.error) expect(answer.get('error')).toBe(expected.error);
    if (expected.code) expect(answer.get('code')).toEqual(expect.any(String));
  }

  it('the state is 500 characters of awkward text', () => {
    expect(STATE.length).toBe(500);
  });

  it('success', async () => {
    for (const state of [STATE, '+', '%', ' ']) {
      const issued = await obtainCode(h, f.user, { clientId: f.reader.clientId, redirectUri: REDIRECT, scope: 'openid contacts:read', extra: { state } }, agent);
      expectResponse(issued.location, state, { code: true });
    }
  });

  it('consent_required (prompt=none, signed in, app never approved)', async () => {
    const { params } = authParams(f.editor.clientId, REDIRECT, 'openid calendar:read', { prompt: 'none', state: STATE });
    const response = await agent.request(h.url(`/auth?${params}`));
    expect(response.status).toBe(303);
    expectResponse(response.location, STATE, { error: 'consent_required' });
  });

  it('access_denied (the user clicks Deny)', async () => {
    const { params } = authParams(f.editor.clientId, REDIRECT, 'openid calendar:read', { state: STATE });
    const final = await completeInteraction(agent, h.url(`/auth?${params}`), REDIRECT, { ...f.user, decision: 'deny' });
    expect(final.status).toBe(303);
    expectResponse(final.location, STATE, { error: 'access_denied' });
  });

  it('login_required (prompt=none, signed out)', async () => {
    const { params } = authParams(f.reader.clientId, REDIRECT, 'openid contacts:read', { prompt: 'none', state: STATE });
    const response = await send(h.url(`/auth?${params}`));
    expect(response.status).toBe(303);
    expectResponse(response.location, STATE, { error: 'login_required' });
  });

  it('invalid_scope', async () => {
    const { params } = authParams(f.reader.clientId, REDIRECT, 'openid contacts:write', { state: STATE });
    const response = await send(h.url(`/auth?${params}`));
    expect(response.status).toBe(303);
    expectResponse(response.location, STATE, { error: 'invalid_scope' });
  });

  it('discovery advertises the iss parameter', async () => {
    const metadata = (await send(h.url('/.well-known/openid-configuration'))).json();
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
  });
});
