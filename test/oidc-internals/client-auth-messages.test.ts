// Pins internals/client-auth-messages.ts: the text by which client-auth-errors.ts recognises a
// request that carried no client authentication at all (and answers it 401, T19/T20). If an
// upgrade rewords it, the rewrite silently stops and such requests get 400 again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_CLIENT_AUTHENTICATION } from '../../server/oidc/internals/client-auth-messages.ts';
import { postForm, startBareProvider, type BareProvider } from './bare-provider.ts';

describe('oidc-provider answers a request without client authentication with the text we match', () => {
  let bare: BareProvider;
  const routes: unknown[] = [];

  beforeAll(async () => {
    bare = await startBareProvider({ features: { introspection: { enabled: true }, revocation: { enabled: true } } }, undefined, (provider) => {
      // A post-middleware (documented): the route name the rewrite also checks.
      provider.use(async (ctx, next) => {
        await next();
        routes.push((ctx as { oidc?: { route?: string } }).oidc?.route);
      });
    });
  });
  afterAll(async () => bare?.close());

  // The endpoints client-auth-errors.ts rewrites, by the route names it checks.
  const endpoints = [
    ['token', { grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://rp.example/cb' }],
    ['introspection', { token: 'x' }],
    ['revocation', { token: 'x' }],
    ['pushed_authorization_request', { response_type: 'code', redirect_uri: 'https://rp.example/cb', scope: 'openid' }],
  ] as const;

  it.each(endpoints)('%s: 400 invalid_request, with exactly that description', async (route, fields) => {
    routes.length = 0;
    const answer = await postForm(bare.provider.urlFor(route), fields);
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: 'invalid_request', error_description: NO_CLIENT_AUTHENTICATION });
    expect(routes).toEqual([route]);
  });

  it('other malformed client authentication is told apart (the rewrite must not touch it)', async () => {
    const answer = await postForm(bare.provider.urlFor('token'), { grant_type: 'authorization_code', code: 'x', client_id: 'basic-client', client_assertion: 'not-a-jwt' });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error_description?: string }).error_description).not.toBe(NO_CLIENT_AUTHENTICATION);
  });
});
