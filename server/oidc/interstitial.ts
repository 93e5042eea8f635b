// Consent phishing defence for clients nobody has verified (RFC 9700 §4.11.2; T32): an
// authorization request answered without any user interaction (an error, or prompt=none) would
// send the browser straight on to the self-registered client's address, lending it our
// domain's credibility. For those clients we show where the user is going and let them choose.
//
// The choice is made where the answer is made, in the response modes themselves (provider.ts
// wraps each one as the provider registers it), so it holds for every mode alike: a redirect
// becomes a link, a form_post becomes a form the user submits; nothing reaches the client before
// the user has chosen.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Views } from '../http/views.ts';
import { allowFormAction } from '../http/security-headers.ts';

export type ResponseModeHandler = (ctx: KoaContextWithOIDC, redirectUri: string, payload: Record<string, unknown>) => unknown;

export interface Interstitial {
  /** Wraps a response mode's handler so that answers to unverified clients ask the user first. */
  guard(mode: string, handler: ResponseModeHandler): ResponseModeHandler;
}

/** Modes whose answer we can restate on our page: a link (query) or a form the user submits. */
const GUARDED = new Set(['query', 'form_post']);

export function createInterstitial({ views, isVerifiedClient }: { views: Views; isVerifiedClient: (clientId: string) => Promise<boolean> }): Interstitial {
  async function needsWarning(ctx: KoaContextWithOIDC, payload: Record<string, unknown>): Promise<boolean> {
    const client = ctx.oidc?.client;
    if (!client) return false;
    const prompt = ctx.oidc.params?.prompt;
    const silent = typeof prompt === 'string' && prompt.split(' ').includes('none');
    if (!('error' in payload) && !silent) return false;
    return !(await isVerifiedClient(client.clientId));
  }

  return {
    guard(mode, handler) {
      if (!GUARDED.has(mode)) return handler;
      return async function warnFirst(this: unknown, ctx, redirectUri, payload) {
        if (!(await needsWarning(ctx, payload))) return handler.call(this, ctx, redirectUri, payload);
        const target = new URL(redirectUri);
        const fields = Object.entries(payload).map(([name, value]) => ({ name, value: String(value) }));
        const link = new URL(redirectUri);
        for (const { name, value } of fields) link.searchParams.set(name, value);
        // The form posts to the client's registered redirect URI, already validated.
        if (mode === 'form_post') allowFormAction(ctx as never, redirectUri);
        await views.respond(ctx as never, 'leaving', {
          title: 'You are leaving',
          host: target.host || target.protocol,
          clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
          error: typeof payload.error === 'string' ? payload.error : undefined,
          post: mode === 'form_post' ? { action: redirectUri, fields } : undefined,
          location: link.toString(),
        });
      };
    },
  };
}
