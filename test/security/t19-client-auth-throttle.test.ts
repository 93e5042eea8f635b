// T19/T41 (abuse): wrong client secrets slow down the address that sends them, never the client.
// Client secrets are 256-bit, so guessing is not the threat; what must not happen is a stranger
// who knows a client id (a resource server's, say) switching that client off for everyone. A
// right secret always authenticates; wrong ones are counted per (client id, address) and per
// address, and an address over its limit gets 429 for its wrong secrets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, type Fixtures } from '../helpers/fixtures.ts';
import { basic } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';

describe.each(STORES)('wrong client secrets are throttled per address, not per client (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  const ATTACKER = '203.0.113.66';

  beforeAll(async () => {
    // Defaults: CLIENT_AUTH_ATTEMPTS 20 per (client, address), CLIENT_AUTH_IP_ATTEMPTS 100 per address.
    h = await startServer({ store, env: { TRUST_PROXY: 'true' } });
    f = await createFixtures(h);
  });
  afterAll(async () => h?.close());

  const introspect = (secret: string, from: string, body = 'token=x') =>
    fetch(h.url('/token/introspection'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(f.contacts.clientId, secret), 'x-forwarded-for': from },
      body,
    });

  it('100 wrong secrets for a resource server from one address leave it working everywhere with its right secret', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 100; i += 1) statuses.push((await introspect(`wrong-${i}`, ATTACKER)).status);
    // 401 until the pair's limit, then 429 for that address's wrong secrets.
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);

    // The resource server, from its own address: works.
    expect((await introspect(f.contacts.clientSecret, '192.0.2.10')).status).toBe(200);

    // From the attacking address: wrong secrets are refused with 429 and Retry-After...
    const wrong = await introspect('still-wrong', ATTACKER);
    expect(wrong.status).toBe(429);
    expect(Number(wrong.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    // ...and the right secret still authenticates (a shared address, a NAT, cannot lock it out).
    expect((await introspect(f.contacts.clientSecret, ATTACKER)).status).toBe(200);
  });

  it('client_secret_post counts the same, at the token endpoint too', async () => {
    const from = '203.0.113.77';
    const post = (secret: string) =>
      fetch(h.url('/token'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'contacts:read', client_id: f.service.clientId, client_secret: secret }),
      });
    for (let i = 0; i < 20; i += 1) expect((await post('wrong')).status).toBe(401);
    expect((await post('wrong')).status).toBe(429);
    expect((await post(f.service.clientSecret)).status).toBe(200);
  });

  it('one address failing across many clients is limited per address', async () => {
    const from = '203.0.113.88';
    const clients = [f.reader, f.editor, f.service, f.contacts, f.calendar].map((c) => ('clientSecret' in c ? c.clientId : ''));
    const statuses: number[] = [];
    for (let i = 0; i < 105; i += 1) {
      const response = await fetch(h.url('/token/introspection'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(clients[i % clients.length] as string, 'wrong'), 'x-forwarded-for': from },
        body: 'token=x',
      });
      statuses.push(response.status);
    }
    expect(statuses.slice(0, 100).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(100).every((s) => s === 429)).toBe(true);
    // Another address is untouched.
    expect((await introspect('wrong', '192.0.2.11')).status).toBe(401);
  });
});
