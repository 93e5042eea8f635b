// T35 concurrent refresh (RFC 9700 §4.14.2). With the grace window (default): every response is
// the same successor pair or invalid_grant, the pair is handed out at most 1 + MAX_GRACE_REPLAYS
// times (the rule T36 checks one retry at a time), and exactly one successor is live: retries
// beyond the cap are refused without ending the grant. Without grace: exactly one 200, the
// losers invalid_grant, and (reuse) the grant revoked. Never a 5xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type Harness } from '../helpers/harness.ts';
import { createFixtures, REDIRECT, type Fixtures } from '../helpers/fixtures.ts';
import { codeFlow, confidentialClient } from '../helpers/oauth.ts';
import { introspect, tokenRequest } from '../helpers/token-requests.ts';
import { STORES } from '../helpers/databases.ts';
import { MAX_GRACE_REPLAYS } from '../../server/oidc/single-use.ts';

describe.each(STORES)('T35 concurrent refresh (%s)', (store) => {
  for (const grace of ['5', '0']) {
    describe(`grace ${grace} s`, () => {
      let h: Harness;
      let f: Fixtures;

      beforeAll(async () => {
        h = await startServer({ store, env: { REFRESH_GRACE_SECONDS: grace } });
        f = await createFixtures(h);
      });
      afterAll(async () => h?.close());

      it('ten parallel refreshes of one token', async () => {
        const config = await confidentialClient(h, f.reader.clientId, f.reader.clientSecret);
        const refresh = (await codeFlow(config, f.user, { redirect_uri: REDIRECT, scope: 'openid contacts:read' })).tokens.refresh_token as string;
        const reader = { id: f.reader.clientId, secret: f.reader.clientSecret };
        const results = await Promise.all(Array.from({ length: 10 }, () => tokenRequest(h.issuer, reader, { grant_type: 'refresh_token', refresh_token: refresh })));
        expect(results.filter((r) => r.status >= 500)).toEqual([]);
        for (const loser of results.filter((r) => r.status !== 200)) expect(loser.body.error).toBe('invalid_grant');
        const successes = results.filter((r) => r.status === 200);
        const successors = [...new Set(successes.map((r) => r.body.refresh_token as string))];
        expect(successors).toHaveLength(1);
        const live = await introspect(h.issuer, reader, successors[0] as string);
        if (grace === '5') {
          expect(successes).toHaveLength(1 + MAX_GRACE_REPLAYS);
          expect(live.active).toBe(true);
        } else {
          expect(successes).toHaveLength(1);
          // Without grace, the parallel presentations are reuse: the family is revoked.
          expect(live.active).toBe(false);
        }
      });
    });
  }
});
