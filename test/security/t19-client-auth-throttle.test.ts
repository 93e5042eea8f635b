// T19/T41 (abuse): repeated failed client authentication pauses that client id. Client secrets
// are 256-bit, so this is about noise and load, not guessing; the pause covers
// client_secret_basic and client_secret_post alike, at every endpoint that authenticates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, type Fixtures } from '../helpers/fixtures.ts';
import { basic } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('repeated invalid_client per client id (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;

  beforeAll(async () => {
    h = await startServer({ store, env: { CLIENT_AUTH_ATTEMPTS: '3' } });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const token = (authorization: string | undefined, body = 'grant_type=client_credentials&scope=contacts:read') =>
    fetch(h.url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
      body,
    });

  it('pauses a client id after repeated failures, whatever the method, without touching other clients', async () => {
    for (let i = 0; i < 2; i += 1) expect((await token(basic(f.service.clientId, 'wrong'))).status).toBe(401);
    // client_secret_post counts too.
    expect((await token(undefined, `grant_type=client_credentials&client_id=${f.service.clientId}&client_secret=wrong`)).status).toBe(401);

    const paused = await token(basic(f.service.clientId, f.service.clientSecret));
    expect(paused.status).toBe(429);
    expect(Number(paused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await paused.json()).toMatchObject({ error: 'invalid_client' });

    const introspection = await fetch(h.url('/token/introspection'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(f.service.clientId, f.service.clientSecret) },
      body: 'token=x',
    });
    expect(introspection.status).toBe(429);

    // Another client is unaffected.
    const other = await fetch(h.url('/token/introspection'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(f.contacts.clientId, f.contacts.clientSecret) },
      body: 'token=x',
    });
    expect(other.status).toBe(200);
  });
});
