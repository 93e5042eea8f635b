// Consent phishing defence for clients nobody has verified (RFC 9700 §4.11.2; T32): an
// authorization request answered without any user interaction (an error, or prompt=none) would
// bounce the browser straight to the self-registered client's address, lending it our
// domain's credibility. For those clients we show where the user is going and let them choose.
import type { Context, Next } from 'koa';
import type { Views } from '../http/views.ts';

interface ProviderView {
  oidc?: {
    route?: string;
    params?: { redirect_uri?: unknown; prompt?: unknown };
    client?: { clientId: string; clientName?: string };
  };
}

export function unverifiedRedirectInterstitial({ views, isVerifiedClient }: { views: Views; isVerifiedClient: (clientId: string) => Promise<boolean> }) {
  return async function interstitial(ctx: Context, next: Next) {
    await next();
    const { oidc } = ctx as unknown as ProviderView;
    if (ctx.status !== 303 || oidc?.route !== 'authorization' || !oidc.client) return;
    const redirectUri = oidc.params?.redirect_uri;
    const location = ctx.response.get('Location');
    if (typeof redirectUri !== 'string' || !location.startsWith(redirectUri)) return;
    const target = new URL(location);
    const answer = target.hash ? new URLSearchParams(target.hash.slice(1)) : target.searchParams;
    const silent = typeof oidc.params?.prompt === 'string' && oidc.params.prompt.split(' ').includes('none');
    if (!answer.has('error') && !silent) return;
    if (await isVerifiedClient(oidc.client.clientId)) return;

    ctx.remove('Location');
    await views.respond(ctx, 'leaving', {
      title: 'You are leaving',
      host: target.host || target.protocol,
      clientName: oidc.client.clientName ?? oidc.client.clientId,
      error: answer.get('error') ?? undefined,
      location,
    });
  };
}
