// Pins internals/response-modes.ts, on which the unverified-client warning (T32, interstitial.ts)
// depends: the Provider constructor still registers its built-in response modes through
// `this.registerResponseMode`, so a subclass wraps each one, and the wrapped handler is what
// answers, with (ctx, redirectUri, payload). An upgrade that registered them another way would
// let answers to unverified clients go straight out: these tests then see no mode wrapped and
// no call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { providerWrappingResponseModes, type RegisteredResponseMode } from '../../server/oidc/internals/response-modes.ts';
import { REDIRECT_URI, startBareProvider, type BareProvider } from './bare-provider.ts';

interface Answer {
  mode: string;
  redirectUri: string;
  payload: Record<string, unknown>;
  client: string | undefined;
}

describe('oidc-provider registers its response modes through registerResponseMode', () => {
  let bare: BareProvider;
  const wrapped: string[] = [];
  const answered: Answer[] = [];

  beforeAll(async () => {
    const ProviderClass = providerWrappingResponseModes((mode, handler): RegisteredResponseMode => {
      wrapped.push(mode);
      return function recorded(this: unknown, ctx: KoaContextWithOIDC, redirectUri: string, payload: Record<string, unknown>) {
        answered.push({ mode, redirectUri, payload, client: ctx.oidc.client?.clientId });
        return handler.call(this, ctx, redirectUri, payload);
      } as RegisteredResponseMode;
    });
    bare = await startBareProvider({}, ProviderClass);
  });
  afterAll(async () => bare?.close());

  it('each built-in mode is wrapped while the provider is constructed', () => {
    // A new built-in mode fails this too: interstitial.ts must then decide whether it guards it.
    expect(wrapped).toEqual(['query', 'fragment', 'form_post']);
  });

  // prompt=none without a session: an error the provider sends back to the client.
  const silentRequest = (responseMode?: string) =>
    new URLSearchParams({
      client_id: 'basic-client',
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid',
      prompt: 'none',
      state: 'abc',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      ...(responseMode ? { response_mode: responseMode } : {}),
    });

  it('the wrapped query handler is what answers, with (ctx, redirectUri, payload)', async () => {
    answered.length = 0;
    const answer = await fetch(bare.url(`/auth?${silentRequest()}`), { redirect: 'manual' });
    expect(answer.status).toBe(303);
    const location = new URL(answer.headers.get('location') as string);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe('login_required');
    expect(answered).toEqual([{ mode: 'query', redirectUri: REDIRECT_URI, payload: expect.objectContaining({ error: 'login_required', state: 'abc' }), client: 'basic-client' }]);
  });

  it('so is the wrapped form_post handler', async () => {
    answered.length = 0;
    const answer = await fetch(bare.url(`/auth?${silentRequest('form_post')}`), { redirect: 'manual' });
    // A page whose form posts the error to the client (its status is the error's).
    const page = await answer.text();
    expect(page).toContain(`action="${REDIRECT_URI}"`);
    expect(page).toContain('login_required');
    expect(answered).toEqual([{ mode: 'form_post', redirectUri: REDIRECT_URI, payload: expect.objectContaining({ error: 'login_required' }), client: 'basic-client' }]);
  });
});
