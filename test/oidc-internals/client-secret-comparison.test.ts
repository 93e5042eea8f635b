// Pins internals/client-secret-comparison.ts, which the client secret throttle (T19/T41) hangs
// on: oidc-provider still checks client_secret_basic and client_secret_post secrets through
// `Client#compareClientSecret` on every endpoint that authenticates clients, with the request's
// context at hand (Provider.ctx), an error thrown there is still the answer, and the patch stays
// on the one provider. An upgrade that moved the check elsewhere would leave wrong secrets
// uncounted: these tests then see no call, or a 401 where the hook answered 429.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Provider, { errors } from 'oidc-provider';
import { onWrongClientSecret } from '../../server/oidc/internals/client-secret-comparison.ts';
import { basic, CLIENT_SECRET, postForm, startBareProvider, type BareProvider } from './bare-provider.ts';

describe('oidc-provider compares client secrets through Client#compareClientSecret', () => {
  let bare: BareProvider;
  const wrong: Array<{ clientId: string; route: unknown }> = [];
  let refuseNext = false;

  beforeAll(async () => {
    bare = await startBareProvider({ features: { introspection: { enabled: true }, revocation: { enabled: true } } }, undefined, (provider) => {
      onWrongClientSecret(provider, async (clientId) => {
        wrong.push({ clientId, route: Provider.ctx?.oidc.route });
        if (refuseNext) {
          Provider.ctx?.set('Retry-After', '7');
          throw new errors.OIDCProviderError(429, 'invalid_client');
        }
      });
    });
  });
  afterAll(async () => bare?.close());

  const BODIES = {
    token: { grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://rp.example/cb' },
    introspection: { token: 'x' },
    revocation: { token: 'x' },
    pushed_authorization_request: { response_type: 'code', redirect_uri: 'https://rp.example/cb', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' },
  };
  const endpoints = Object.keys(BODIES) as Array<keyof typeof BODIES>;

  const withBasic = (route: keyof typeof BODIES, secret: string) =>
    postForm(bare.provider.urlFor(route), BODIES[route], { authorization: basic('basic-client', secret) });
  const withPost = (route: keyof typeof BODIES, secret: string) =>
    postForm(bare.provider.urlFor(route), { ...BODIES[route], client_id: 'post-client', client_secret: secret });

  it.each(endpoints)('%s: a wrong client_secret_basic secret is reported, inside the request, then refused', async (route) => {
    wrong.length = 0;
    const answer = await withBasic(route, 'wrong');
    expect(answer.status).toBe(401);
    expect(((await answer.json()) as { error?: string }).error).toBe('invalid_client');
    expect(wrong).toEqual([{ clientId: 'basic-client', route }]);
  });

  it.each(endpoints)('%s: a wrong client_secret_post secret is reported too', async (route) => {
    wrong.length = 0;
    expect((await withPost(route, 'wrong')).status).toBe(401);
    expect(wrong).toEqual([{ clientId: 'post-client', route }]);
  });

  it('a right secret authenticates without a report', async () => {
    wrong.length = 0;
    // Past client authentication: the made-up code is what is refused.
    const answer = await withBasic('token', CLIENT_SECRET);
    expect(await answer.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await withPost('introspection', CLIENT_SECRET)).status).toBe(200);
    expect(wrong).toEqual([]);
  });

  it('what the report throws is the answer, with the headers it set', async () => {
    refuseNext = true;
    try {
      const answer = await withBasic('introspection', 'wrong');
      expect(answer.status).toBe(429);
      expect(answer.headers.get('retry-after')).toBe('7');
      expect(((await answer.json()) as { error?: string }).error).toBe('invalid_client');
    } finally {
      refuseNext = false;
    }
  });

  it('each provider has a Client class of its own: the patch touches no other provider', () => {
    const other = new Provider('http://127.0.0.1:1', { clients: [] });
    expect(other.Client).not.toBe(bare.provider.Client);
    expect(other.Client.prototype.compareClientSecret).not.toBe(bare.provider.Client.prototype.compareClientSecret);
  });
});
