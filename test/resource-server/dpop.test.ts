// DPoP (RFC 9449) at the API, for both token formats: the binding is `cnf.jkt` in a JWT access
// token or in the introspection answer. Tokens and the good proofs come from oauth4webapi (a
// real client); the bad proofs are made by hand, one broken rule each, and each must be refused
// with the DPoP challenge that names the fault (§7.1).
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, type Fixtures } from '../helpers/fixtures.ts';
import { STORES } from '../helpers/databases.ts';
import { call, clientCredentialsToken, dpopRequest, FRAMEWORKS, handmadeProof, metadataUrl, proofKey, startApi, type Api, type ProofKey, type RouteScopes } from './support.ts';

const NOTES = 'https://notes.api.test';
const ALGS = 'ES256 EdDSA Ed25519 PS256 RS256';

interface Subject {
  resource: string;
  introspection: { clientId: string; clientSecret: string };
  service: { clientId: string; clientSecret: string };
  scopes: RouteScopes;
}

describe.each(STORES)('DPoP-bound tokens (%s)', (store) => {
  let h: Harness;
  let f: Fixtures;
  const subjects: Record<'jwt' | 'opaque', Subject> = {} as never;

  beforeAll(async () => {
    h = await startServer({ store });
    f = await createFixtures(h, { contactsFormat: 'jwt' });
    const notes = await h.management.resources.add({
      id: NOTES,
      tokenFormat: 'opaque',
      scopes: [
        { scope: 'notes:read', description: 'Read notes' },
        { scope: 'notes:write', description: 'Write notes' },
      ],
    });
    const notesService = await h.management.clients.add({ name: 'Notes sync', grantTypes: ['client_credentials'], scope: 'notes:read', resources: [NOTES] });
    await h.app.catalog.reload();
    subjects.jwt = { resource: f.contacts.id, introspection: f.contacts, service: f.service, scopes: { read: 'contacts:read', write: 'contacts:write' } };
    subjects.opaque = {
      resource: NOTES,
      introspection: { clientId: notes.clientId, clientSecret: notes.clientSecret },
      service: { clientId: notesService.clientId, clientSecret: notesService.clientSecret as string },
      scopes: { read: 'notes:read', write: 'notes:write' },
    };
  });
  afterAll(async () => h?.close());

  describe.each(['jwt', 'opaque'] as const)('%s format', (format) => {
    let key: ProofKey;
    let token: string;
    let unbound: string;
    const s = () => subjects[format];
    const options = (extra: { publicUrl?: string; dpopRequired?: boolean } = {}) => ({
      issuer: h.issuer,
      resource: s().resource,
      clientId: s().introspection.clientId,
      clientSecret: s().introspection.clientSecret,
      ...extra,
    });

    beforeAll(async () => {
      key = await proofKey();
      token = await clientCredentialsToken(h.issuer, s().service, { scope: s().scopes.read, dpopKey: key.pair });
      unbound = await clientCredentialsToken(h.issuer, s().service, { scope: s().scopes.read });
      expect(token.includes('.')).toBe(format === 'jwt');
    });

    describe.each(FRAMEWORKS)('in %s', (framework) => {
      it("accepts the bound token with the client library's proof, the API's origin taken from the request", async () => {
        const api = await startApi(framework, () => options(), s().scopes);
        try {
          const response = await dpopRequest(token, 'GET', api.url('/contacts?page=2'), key.pair);
          expect(response.status).toBe(200);
          const body = (await response.json()) as Record<string, unknown>;
          expect(body).toMatchObject({ clientId: s().service.clientId, format, jkt: await calculateJwkThumbprint(key.jwk) });
        } finally {
          await api.close();
        }
      });
    });

    describe('refusals (plain Node)', () => {
      let api: Api;
      beforeAll(async () => {
        api = await startApi('node', (origin) => options({ publicUrl: origin }), s().scopes);
      });
      afterAll(async () => api?.close());

      const dpop = (proof: string | string[], method = 'GET', accessToken = token) =>
        call(api.url('/contacts'), { method, headers: { authorization: `DPoP ${accessToken}`, dpop: proof } });
      const proof = (overrides = {}, method = 'GET', accessToken = token) => handmadeProof(key, method, api.url('/contacts'), accessToken, overrides);
      const challenge = (error: string, description: string) =>
        `DPoP error="${error}", error_description="${description}", algs="${ALGS}", resource_metadata="${metadataUrl(api)}"`;

      async function expectRefused(answer: Promise<Awaited<ReturnType<typeof call>>>, error: string, description: string) {
        const { status, headers, body } = await answer;
        expect(status).toBe(401);
        expect(headers['www-authenticate']).toBe(challenge(error, description));
        expect(body).toEqual({ error, error_description: description });
      }

      it('a hand-made proof by the rules is accepted, htu compared after normalisation', async () => {
        expect((await dpop(await proof())).status).toBe(200);
        const port = new URL(api.origin).port;
        // Scheme and host case, an escaped unreserved character, query and fragment do not matter.
        expect((await dpop(await proof({ htu: `HTTP://127.0.0.1:${port}/%63ontacts?page=2#top` }))).status).toBe(200);
      });

      it('a bound token sent as a Bearer token is refused, with the DPoP scheme in the challenge', async () => {
        const answer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${token}` } });
        expect(answer.status).toBe(401);
        expect(answer.headers['www-authenticate']).toBe(challenge('invalid_token', 'The access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof'));
      });

      it('an unbound token sent with the DPoP scheme is refused', async () => {
        await expectRefused(dpop(await proof({}, 'GET', unbound), 'GET', unbound), 'invalid_token', 'The access token is not DPoP-bound');
      });

      it('no proof, or two', async () => {
        const answer = await call(api.url('/contacts'), { headers: { authorization: `DPoP ${token}` } });
        expect(answer.headers['www-authenticate']).toBe(challenge('invalid_dpop_proof', 'A DPoP proof is required with the DPoP scheme'));
        await expectRefused(dpop([await proof(), await proof()]), 'invalid_dpop_proof', 'The request must have exactly one DPoP header');
      });

      it('a proof signed with another key: invalid key binding (§7.1)', async () => {
        const other = await proofKey();
        await expectRefused(dpop(await handmadeProof(other, 'GET', api.url('/contacts'), token)), 'invalid_token', 'Invalid DPoP key binding');
      });

      it('a replayed proof', async () => {
        const once = await proof();
        expect((await dpop(once)).status).toBe(200);
        await expectRefused(dpop(once), 'invalid_dpop_proof', 'The DPoP proof has been used before');
        // Also when a replay races the first use.
        const racing = await proof();
        const answers = await Promise.all([dpop(racing), dpop(racing), dpop(racing)]);
        expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401]);
      });

      it('a proof for another URL or another method', async () => {
        await expectRefused(dpop(await proof({ htu: api.url('/other') })), 'invalid_dpop_proof', 'The DPoP proof is for another URL');
        await expectRefused(dpop(await proof({ htu: `https://127.0.0.1:${new URL(api.origin).port}/contacts` })), 'invalid_dpop_proof', 'The DPoP proof is for another URL');
        await expectRefused(dpop(await proof({ htm: 'POST' })), 'invalid_dpop_proof', 'The DPoP proof is for another HTTP method');
      });

      it('a stale proof, or one from the future', async () => {
        await expectRefused(dpop(await proof({ iatOffset: -120 })), 'invalid_dpop_proof', 'The DPoP proof is too old');
        await expectRefused(dpop(await proof({ iatOffset: 60 })), 'invalid_dpop_proof', 'The DPoP proof is dated in the future');
        expect((await dpop(await proof({ iatOffset: -50 }))).status).toBe(200);
      });

      it('a proof without ath, or for another access token', async () => {
        await expectRefused(dpop(await proof({ ath: null })), 'invalid_dpop_proof', 'The DPoP proof needs an ath claim for the access token');
        await expectRefused(dpop(await proof({ ath: 'x'.repeat(43) })), 'invalid_dpop_proof', 'The DPoP proof is for another access token');
      });

      it('a proof of the wrong type, or carrying a private key', async () => {
        await expectRefused(dpop(await proof({ typ: 'JWT' })), 'invalid_dpop_proof', 'The DPoP proof must have typ dpop+jwt');
        // Signed by the key whose private half it shows.
        const exposed = await generateKeyPair('ES256', { extractable: true });
        const exposedKey = { pair: exposed, jwk: await exportJWK(exposed.privateKey) };
        await expectRefused(dpop(await handmadeProof(exposedKey, 'GET', api.url('/contacts'), token)), 'invalid_dpop_proof', 'The DPoP proof key must be a public key');
      });

      it('too narrow a bound token: 403 with the DPoP scheme and every scope the route needs', async () => {
        const answer = await dpop(await proof({}, 'POST'), 'POST');
        expect(answer.status).toBe(403);
        expect(answer.headers['www-authenticate']).toBe(
          `DPoP error="insufficient_scope", error_description="The access token lacks the scope ${s().scopes.write}", scope="${s().scopes.read} ${s().scopes.write}", algs="${ALGS}", resource_metadata="${metadataUrl(api)}"`,
        );
      });
    });

    it('dpopRequired: unbound tokens refused, the challenge and the metadata say DPoP', async () => {
      const api = await startApi('express', (origin) => options({ publicUrl: origin, dpopRequired: true }), s().scopes);
      try {
        const none = await call(api.url('/contacts'));
        expect(none.headers['www-authenticate']).toBe(`DPoP scope="${s().scopes.read}", algs="${ALGS}", resource_metadata="${metadataUrl(api)}"`);
        const bearer = await call(api.url('/contacts'), { headers: { authorization: `Bearer ${unbound}` } });
        expect(bearer.status).toBe(401);
        expect(bearer.headers['www-authenticate']).toBe(
          `DPoP error="invalid_token", error_description="This API accepts DPoP-bound access tokens only", algs="${ALGS}", resource_metadata="${metadataUrl(api)}"`,
        );
        expect((await dpopRequest(token, 'GET', api.url('/contacts'), key.pair)).status).toBe(200);
        expect((await call(metadataUrl(api))).body).toMatchObject({ dpop_bound_access_tokens_required: true, dpop_signing_alg_values_supported: ALGS.split(' ') });
      } finally {
        await api.close();
      }
    });
  });
});
