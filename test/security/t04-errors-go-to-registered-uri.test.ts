// T4 once the client and redirect URI are validated, errors go to the registered URI only,
// with `iss` and `state` (RFC 6749 §4.1.2.1; RFC 9207 §2).
//
// A good authorization request spoiled in one parameter (unknown scope, bogus prompt, bogus
// response_mode) is answered with `303` to exactly https://app.example/cb, carrying `error`,
// the `state` sent and `iss` = the issuer; never 302/307 and never anywhere else. An unknown
// response_mode cannot choose how the error is delivered: it arrives in the query.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { CONTACTS, createFixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { authParams, send, target } from './support.ts';

const REGISTERED = 'https://app.example/cb';

describe.each(STORES)('T4 errors go to the registered URI with iss and state (%s)', (store) => {
  let h: Harness;
  let appId: string;

  beforeAll(async () => {
    h = await startServer({ store });
    await createFixtures(h);
    appId = (
      await h.management.clients.add({ name: 'App', redirectUris: [REGISTERED], scope: 'openid contacts:read', resources: [CONTACTS] })
    ).clientId;
  });
  afterAll(async () => h?.close());

  it.each([
    ['scope', 'nonexistent', 'invalid_scope'],
    ['prompt', 'bogus', 'invalid_request'],
    ['response_mode', 'bogus', 'unsupported_response_mode'],
  ])('%s=%s → 303 to the registered URI with error, state and iss', async (name, value, error) => {
    const { params, state } = authParams(appId, REGISTERED, 'openid contacts:read', { [name]: value });
    const response = await send(h.url(`/auth?${params}`));
    expect(response.status).toBe(303);
    expect(target(response.location as string)).toBe(REGISTERED);
    const url = new URL(response.location as string);
    expect(url.hash).toBe('');
    expect(url.searchParams.get('error')).toBe(error);
    expect(url.searchParams.get('state')).toBe(state);
    expect(url.searchParams.getAll('iss')).toEqual([h.issuer]);
    expect(url.searchParams.get('code')).toBeNull();
  });
});
