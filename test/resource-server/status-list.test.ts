// latchkey/resource-server and status lists, against a real Latchkey reached through a loopback
// balancer (test/helpers/balancer.ts) that the test can make refuse the status list path — an
// issuer the API cannot reach — and, with a second instance on the same database, steer token
// requests to either instance. What an API sees:
// - the issuer unreachable: the list in hand keeps answering until its exp, then 503 (fail
//   closed), and a recall made meanwhile is refused as soon as the issuer answers again;
// - a token from a block leased after the API fetched its list is accepted, after exactly one
//   more fetch;
// - tokens naming someone else's list, or a malformed status, are refused.
import crypto from 'node:crypto';
import { decodeJwt, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { startBalancer, type Balancer } from '../helpers/balancer.ts';
import { CONTACTS, createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { STORES } from '../helpers/databases.ts';
import { BLOCK_SIZE } from '../../adapters/status-list-store.ts';
import { call, countRequests, sleep, startApi, type Api } from './support.ts';

const statusOf = (token: string) => (decodeJwt(token) as { status: { status_list: { idx: number; uri: string } } }).status.status_list;

describe.each(STORES)('status lists at the API (%s)', (store) => {
  const backends: string[] = [];
  let balancer: Balancer;
  let a: Harness;
  let b: Harness;
  let f: Fixtures;
  const apis: Api[] = [];
  /** Which instance the balancer sends to; the status list path can be made to fail. */
  let target = 0;
  let listDown = false;
  let people = 0;

  beforeAll(async () => {
    balancer = await startBalancer(backends);
    balancer.route = ({ path }) => (listDown && path.startsWith('/status-lists/') ? -1 : target);
    a = await startServer({ store, env: { ISSUER: balancer.url } });
    b = await startServer({ store, sameDatabaseAs: a, env: { ISSUER: balancer.url } });
    backends.push(a.issuer, b.issuer);
    f = await createFixtures(a, { contactsFormat: 'jwt' });
  });
  afterAll(async () => {
    await Promise.all(apis.map((api) => api.close()));
    await b?.close();
    await a?.close();
    await balancer?.close();
  });

  async function setTtl(seconds: number) {
    await a.management.resources.update(CONTACTS, { statusListTtl: seconds });
    await Promise.all([a.app.catalog.reload(), b.app.catalog.reload()]);
  }

  /** A user's JWT from instance `on` (every request of the flow goes there). */
  async function userToken(on: number): Promise<string> {
    people += 1;
    const user = { email: `rs-status${people}-${store}@example.com`, password: 'a status list password' };
    await a.management.accounts.create(user);
    target = on;
    try {
      const editor = await confidentialClient({ issuer: balancer.url }, f.editor.clientId, f.editor.clientSecret);
      return (await codeFlow(editor, user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens.access_token;
    } finally {
      target = 0;
    }
  }

  /** A new API (nothing cached); no clock tolerance, so a list's exp is exactly when the copy in hand stops answering. */
  async function freshApi(): Promise<(token: string) => ReturnType<typeof call>> {
    const api = await startApi('node', (origin) => ({ issuer: balancer.url, resource: CONTACTS, publicUrl: origin, clockToleranceSeconds: 0 }));
    apis.push(api);
    return (token) => call(api.url('/contacts'), { headers: { authorization: `Bearer ${token}` } });
  }

  async function revokeGrantOf(token: string) {
    const sub = decodeJwt(token).sub as string;
    const [grant] = await a.management.grants.forAccount(sub);
    expect(await a.management.grants.revoke(grant?.grantId as string, { actor: 'operator' })).toBe(true);
  }

  it('a token from a block leased after the API fetched its list is accepted, after one more fetch', async () => {
    await setTtl(3600);
    const contacts = await freshApi();
    const first = await userToken(0);
    expect((await contacts(first)).status).toBe(200);
    // Instance B has a block of its own, past the end of the list the API holds (kept an hour).
    const second = await userToken(1);
    expect(Math.floor(statusOf(second).idx / BLOCK_SIZE)).not.toBe(Math.floor(statusOf(first).idx / BLOCK_SIZE));
    const fetches = countRequests(statusOf(second).uri);
    try {
      expect((await contacts(second)).status).toBe(200);
      expect(fetches.count).toBe(1);
      expect((await contacts(second)).status).toBe(200);
      expect((await contacts(first)).status).toBe(200);
      expect(fetches.count).toBe(1);
    } finally {
      fetches.stop();
    }
  });

  it('the issuer unreachable: the list in hand answers until its exp, then 503; a recall made meanwhile is refused once it is back', async () => {
    // exp = iat + 2 ttl, iat in whole seconds: the copy answers for 3 to 4 s after it is fetched.
    await setTtl(2);
    const contacts = await freshApi();
    const revoked = await userToken(0);
    const kept = await userToken(0);
    const fetchedAt = Date.now();
    expect((await contacts(revoked)).status).toBe(200);

    listDown = true;
    try {
      await revokeGrantOf(revoked);
      await sleep(Math.max(0, fetchedAt + 2100 - Date.now()));
      // Past the ttl: the fetch fails, the copy in hand (exp = iat + 2 ttl) still answers.
      expect((await contacts(revoked)).status).toBe(200);
      let answer = await contacts(kept);
      while (answer.status === 200 && Date.now() - fetchedAt < 6000) {
        await sleep(100);
        answer = await contacts(kept);
      }
      // Past its exp: no statement about any token of that list can be made; not 401, the token may be fine.
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual({ error: 'temporarily_unavailable', error_description: 'The authorization server could not be reached to check the access token' });
      expect(Date.now() - fetchedAt).toBeLessThan(5500);
    } finally {
      listDown = false;
    }
    expect((await contacts(kept)).status).toBe(200);
    const refused = await contacts(revoked);
    expect(refused.status).toBe(401);
    expect(refused.body.error_description).toBe('The access token has been revoked');
  });

  describe('tokens the issuer would never sign, signed with its key', () => {
    async function signed(status: unknown): Promise<string> {
      const jwk = a.keys.signing[0] as { kid: string; alg: string };
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ scope: 'contacts:read', client_id: f.editor.clientId, status })
        .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'at+jwt' })
        .setIssuer(balancer.url)
        .setAudience(CONTACTS)
        .setSubject('someone')
        .setJti(crypto.randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(await importJWK(a.keys.signing[0] as never, jwk.alg));
    }

    it('a status list of another server, a malformed status, an index past the end: 401 invalid_token', async () => {
      const contacts = await freshApi();
      const real = statusOf(await userToken(0));
      const cases: Array<[unknown, string]> = [
        [{ status_list: { idx: 0, uri: 'https://elsewhere.example/status-lists/x' } }, 'The access token names a status list of another server'],
        [{ status_list: { idx: 0, uri: `${balancer.url}.evil.example/status-lists/x` } }, 'The access token names a status list of another server'],
        [{ status_list: { idx: -1, uri: real.uri } }, 'The access token has an invalid status claim'],
        [{ status_list: { uri: real.uri } }, 'The access token has an invalid status claim'],
        ['revoked', 'The access token has an invalid status claim'],
        [{ status_list: { idx: 50 * BLOCK_SIZE, uri: real.uri } }, 'The access token points outside its status list'],
      ];
      for (const [status, description] of cases) {
        const answer = await contacts(await signed(status));
        expect(answer.status, JSON.stringify(status)).toBe(401);
        expect(answer.body.error_description, JSON.stringify(status)).toBe(description);
      }
    });
  });
});
