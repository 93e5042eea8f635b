// DPoP server nonces (RFC 9449 §8) with DPOP_NONCE=true, on two instances over one database: a
// proof without a nonce is answered `use_dpop_nonce` with a nonce, the retry with it works (a real
// client library does exactly that), and a nonce one instance handed out is accepted by the
// other. The two instances' key files share only the data key: the nonce secret each runs with
// comes from the database. Key material from before the nonce secret existed keeps working: the
// first start adds one secret to the database, the same for every instance, and rotations keep it.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/processes.ts';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, CONTACTS, type Fixtures } from '../helpers/fixtures.ts';
import { freshDatabase, STORES } from '../helpers/databases.ts';
import { basic } from '../helpers/token-requests.ts';
import { codeFlow, discover, dpopKey, insecure, oauth, postForm, proofFor, refresh } from '../helpers/dpop.ts';
import { generateKeyMaterial, loadKeyMaterial, sealerFor, writeKeyFile, type KeyMaterial } from '../../server/config/keys.ts';
import { loadConfig } from '../../server/config/env.ts';
import { createDatabase } from '../../server/db/knex.ts';
import { prepareDatabase, type PreparedKeys } from '../../server/bootstrap.ts';
import { createLogger } from '../../server/log.ts';
import { createManagement } from '../../server/management.ts';
import { migrateToLatest } from '../../adapters/migrations/index.ts';
import { initializeSharedKeys, readSharedKeys, replaceSharedKeys } from '../../adapters/key-store.ts';
import { loadSharedKeys, type ProviderKeys } from '../../server/services/shared-keys.ts';

describe.each(STORES)('DPoP server nonces, DPOP_NONCE=true (%s)', (store) => {
  let a: Harness;
  let b: Harness;
  let f: Fixtures;
  let bFile: KeyMaterial;

  beforeAll(async () => {
    // A key file of its own: the rotation below rewrites it.
    a = await startServer({ store, env: { DPOP_NONCE: 'true', KEYS_FILE: path.join(tempDir(), 'keys.json') } });
    f = await createFixtures(a);
    bFile = { ...generateKeyMaterial(), data: a.keys.data };
    b = await startServer({ store, env: { DPOP_NONCE: 'true' }, sameDatabaseAs: a, fileKeys: bFile });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const serviceToken = (issuer: string, dpop: string) =>
    postForm(`${issuer}/token`, { grant_type: 'client_credentials', scope: 'contacts:read' }, { authorization: basic(f.service.clientId, f.service.clientSecret), dpop });

  it('a proof without a nonce gets use_dpop_nonce and a nonce; the retry with it gets a bound token', async () => {
    const key = await dpopKey();
    const first = await serviceToken(a.issuer, await proofFor(key, { htm: 'POST', htu: a.url('/token') }));
    expect([first.status, first.body.error]).toEqual([400, 'use_dpop_nonce']);
    const nonce = first.headers.get('dpop-nonce') as string;
    expect(nonce).toMatch(/^[\w-]{43}$/);
    const retry = await serviceToken(a.issuer, await proofFor(key, { htm: 'POST', htu: a.url('/token'), nonce }));
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    expect(retry.body.token_type).toBe('DPoP');
    // A nonce nobody handed out is no nonce.
    const made = await serviceToken(a.issuer, await proofFor(key, { htm: 'POST', htu: a.url('/token'), nonce: 'x'.repeat(43) }));
    expect([made.status, made.body.error]).toEqual([400, 'use_dpop_nonce']);
  });

  it('oauth4webapi retries with the nonce by itself: code flow, then refresh', async () => {
    const key = await dpopKey();
    const as = await discover(a.issuer);
    const DPoP = oauth.DPoP({}, key.pair);
    // Its first request fails with the nonce error it is built to retry on.
    const attempt = async () =>
      oauth.processClientCredentialsResponse(
        as,
        { client_id: f.service.clientId },
        await oauth.clientCredentialsGrantRequest(as, { client_id: f.service.clientId }, oauth.ClientSecretBasic(f.service.clientSecret), { scope: 'contacts:read' }, { ...insecure, DPoP }),
      );
    const refused = await attempt().catch((error: unknown) => error);
    expect(oauth.isDPoPNonceError(refused)).toBe(true);
    expect((await attempt()).token_type).toBe('dpop');

    const tokens = await codeFlow(a.issuer, f.spa, f.user, { scope: 'contacts:read', resource: CONTACTS, key });
    expect(tokens.token_type).toBe('dpop');
    expect((await refresh(a.issuer, f.spa, tokens.refresh_token as string, oauth.DPoP({}, key.pair))).token_type).toBe('dpop');
  });

  it("instance B accepts a nonce instance A handed out: the secret comes from the database, not B's key file", async () => {
    expect(bFile.dpopNonce).not.toBe(a.keys.dpopNonce);
    expect(b.keys.dpopNonce).toBe(a.keys.dpopNonce);
    const key = await dpopKey();
    const fromA = (await serviceToken(a.issuer, await proofFor(key, { htm: 'POST', htu: a.url('/token') }))).headers.get('dpop-nonce') as string;
    const atB = await serviceToken(b.issuer, await proofFor(key, { htm: 'POST', htu: b.url('/token'), nonce: fromA }));
    expect(atB.status, JSON.stringify(atB.body)).toBe(200);
    expect(atB.body.token_type).toBe('DPoP');
  });

  it('a key rotation keeps the nonce secret (a nonce handed out before it stays good)', async () => {
    const key = await dpopKey();
    const before = (await serviceToken(a.issuer, await proofFor(key, { htm: 'POST', htu: a.url('/token') }))).headers.get('dpop-nonce') as string;
    await a.app.administration.services.keyAdmin.rotate({ signing: true, cookies: true });
    const shared = await readSharedKeys<ProviderKeys>(a.db, sealerFor(a.keys));
    expect(shared?.keys.dpopNonce).toBe(a.keys.dpopNonce);
    expect((await serviceToken(a.issuer, await proofFor(key, { htm: 'POST', htu: a.url('/token'), nonce: before }))).status).toBe(200);
  });
});

describe.each(STORES)('key material from before the DPoP nonce secret (%s)', (store) => {
  it('keeps working: the first start adds one secret to the database, the same for instances starting at once', async () => {
    const database = await freshDatabase(store);
    const keysFile = path.join(tempDir(), 'keys.json');
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: database.url, SEED_DEMO: 'false', KEYS_FILE: keysFile });
    const dbs = [createDatabase(config.database), createDatabase(config.database)];
    try {
      // An older version's key file and shared-keys row: no dpopNonce in either.
      const { dpopNonce: _none, ...old } = generateKeyMaterial();
      const oldFile: KeyMaterial = old;
      writeKeyFile(keysFile, oldFile);
      await migrateToLatest(dbs[0]!);
      await initializeSharedKeys<ProviderKeys>(dbs[0]!, sealerFor(oldFile), { signing: oldFile.signing, cookies: oldFile.cookies });
      const log = createLogger({ quiet: true });
      const secondFile: KeyMaterial = { ...generateKeyMaterial(), data: oldFile.data };
      delete secondFile.dpopNonce;
      // Both finish before anything is asserted (or the connections closed under them).
      const [first, second] = (
        await Promise.allSettled([prepareDatabase(dbs[0]!, { config, keys: oldFile, log }), prepareDatabase(dbs[1]!, { config, keys: secondFile, log })])
      ).map((outcome) => {
        if (outcome.status === 'rejected') throw outcome.reason;
        return outcome.value;
      }) as [PreparedKeys, PreparedKeys];
      expect(first.keys.dpopNonce).toMatch(/^[\w-]{43}$/);
      expect(second.keys.dpopNonce).toBe(first.keys.dpopNonce);
      // Nothing else changed: the signing and cookie keys are the old row's.
      expect(first.keys.signing).toEqual(oldFile.signing);
      expect(second.keys.cookies).toEqual(oldFile.cookies);

      // A rotation by this version keeps the secret. An older instance that rotates keys writes the
      // row without it again: the next
      // look adds one back (a new one: nonces handed out before are answered use_dpop_nonce once).
      // The CLI, as an operator runs it: it reads the old key file.
      expect(loadKeyMaterial(config).material.dpopNonce).toBeUndefined();
      await createManagement(dbs[0]!, { config, keys: oldFile }).keys.rotate({ signing: true, cookies: false });
      const rotated = await readSharedKeys<ProviderKeys>(dbs[0]!, sealerFor(oldFile));
      expect(rotated?.keys.dpopNonce).toBe(first.keys.dpopNonce);
      const { dpopNonce: _dropped, ...byOlderVersion } = rotated!.keys;
      expect(await replaceSharedKeys(dbs[1]!, sealerFor(oldFile), byOlderVersion, rotated!.version)).toBe(true);
      const again = await loadSharedKeys(dbs[0]!, oldFile);
      expect(again.keys.dpopNonce).toMatch(/^[\w-]{43}$/);
      expect(again.keys.signing).toEqual(rotated!.keys.signing);
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
      await database.drop();
    }
  });
});
