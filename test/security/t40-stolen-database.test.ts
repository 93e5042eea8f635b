// T40 a stolen database yields no usable credential. Every kind of artefact is issued, then the
// raw SQLite file (with its WAL) or a pg_dump is searched for each raw value: zero hits, while
// the values still work. Token ids are stored as SHA-256 digests, payloads and client secrets
// sealed (AES-256-GCM) under a key kept outside the database (README "Architecture").
// Also type isolation: a value of one kind presented as another is refused.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { authorizationRequest, client, codeFlow, completeInteraction, confidentialClient } from '../helpers/oauth.ts';
import { UserAgent } from '../helpers/user-agent.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { findPayloads } from '../../adapters/payload-queries.ts';
import { createSealer } from '../../adapters/at-rest.ts';
import { STORES } from '../helpers/databases.ts';

function pgDump(url: string): string {
  const bin = fs.readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin/pg_dump`).find((p) => fs.existsSync(p)) ?? 'pg_dump';
  return execFileSync(bin, ['--data-only', `--dbname=${url}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

describe.each(STORES)('T40 stolen database (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  const secrets: Record<string, string> = {};
  let registeredClientId = '';

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h);
    secrets['client secret (CLI)'] = f.reader.clientSecret;
    secrets['resource server secret'] = f.contacts.clientSecret;

    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    const agent = new UserAgent();
    const { tokens } = await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid offline_access contacts:read' }, agent);
    secrets['access token'] = tokens.access_token;
    secrets['refresh token'] = tokens.refresh_token as string;
    const sessionCookie = agent.cookieHeader(h.url('/auth')).split('; ').find((c) => c.startsWith('latchkey.session='));
    secrets['session id'] = sessionCookie?.split('=')[1] as string;

    // An unredeemed code, and the interaction of a flow left half-way.
    const request = await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid contacts:read' });
    const final = await completeInteraction(new UserAgent(), request.url.toString(), REDIRECT, f.user);
    secrets['authorization code'] = new URL(final.location as string).searchParams.get('code') as string;
    const pending = await new UserAgent().follow((await authorizationRequest(config, { redirect_uri: REDIRECT, scope: 'openid' })).url.toString(), REDIRECT);
    secrets['interaction uid'] = new URL(pending.url).pathname.split('/').pop() as string;

    secrets['initial access token'] = await new h.app.provider.InitialAccessToken({}).save();
    const registered = (await (
      await fetch(h.url('/reg'), {
        method: 'POST',
        headers: { authorization: `Bearer ${secrets['initial access token']}`, 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [REDIRECT] }),
      })
    ).json()) as Record<string, string>;
    registeredClientId = registered.client_id as string;
    secrets['client secret (registration)'] = registered.client_secret as string;
    secrets['registration access token'] = registered.registration_access_token as string;
    secrets['client-credentials token'] = (await tokenRequest(h.issuer, { id: f.service.clientId, secret: f.service.clientSecret }, { grant_type: 'client_credentials', scope: 'contacts:read' })).body
      .access_token as string;
    for (const [kind, value] of Object.entries(secrets)) expect(value, kind).toMatch(/^[\w-]{20,}$/);
  });
  afterAll(async () => h?.close());

  it('no issued value appears anywhere in the stored data', async () => {
    let haystack: string;
    if (store === 'sqlite') {
      const file = h.database.file as string;
      haystack = [file, `${file}-wal`].filter((p) => fs.existsSync(p)).map((p) => fs.readFileSync(p).toString('latin1')).join('\n');
    } else {
      haystack = pgDump(h.database.url);
    }
    expect(haystack.length).toBeGreaterThan(1000);
    const found = Object.entries(secrets).filter(([, value]) => haystack.includes(value)).map(([kind]) => kind);
    expect(found).toEqual([]);
  });

  it('the values still work', async () => {
    expect((await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, secrets['access token'] as string)).active).toBe(true);
    const reg = await fetch(h.url(`/reg/${registeredClientId}`), { headers: { authorization: `Bearer ${secrets['registration access token']}` } });
    expect(reg.status).toBe(200);
    expect(((await reg.json()) as { client_secret: string }).client_secret).toBe(secrets['client secret (registration)']);
    const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
    await expect(client.refreshTokenGrant(config, secrets['refresh token'] as string)).resolves.toHaveProperty('access_token');
  });

  it('a value of one kind is refused as another kind', async () => {
    const sealer = createSealer(h.keys.data);
    const [grant] = await findPayloads(h.db, sealer, 'Grant', { accountId: f.user.id, clientId: f.reader.clientId });
    const impostors = {
      'session id': secrets['session id'],
      'interaction uid': secrets['interaction uid'],
      'grant id': grant?.jti as string,
      'registration access token': secrets['registration access token'],
      'initial access token': secrets['initial access token'],
      'access token': secrets['access token'],
    };
    const reader = { id: f.reader.clientId, secret: f.reader.clientSecret };
    for (const [kind, value] of Object.entries(impostors)) {
      expect(value, kind).toBeTruthy();
      const asCode = await tokenRequest(h.issuer, reader, { grant_type: 'authorization_code', code: value as string, redirect_uri: REDIRECT, code_verifier: 'x'.repeat(43) });
      expect(asCode.body.error, `${kind} as code`).toBe('invalid_grant');
      const asRefresh = await tokenRequest(h.issuer, reader, { grant_type: 'refresh_token', refresh_token: value as string });
      expect(asRefresh.body.error, `${kind} as refresh token`).toBe('invalid_grant');
      if (kind !== 'access token') {
        expect(await introspect(h.issuer, { id: f.contacts.clientId, secret: f.contacts.clientSecret }, value as string), `${kind} introspected`).toEqual({ active: false });
      }
    }
  });
});
