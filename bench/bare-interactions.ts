// Sign-in and consent for the bare oidc-provider baseline, only so that W2 and W3 can prepare
// their tokens through the real code + PKCE flow (test/helpers/oauth.ts codeFlow drives it like
// our pages: a form posting to …/login with a hidden csrf field). Nothing here is measured:
// there is no password check (any name signs in, as that account) and consent grants whatever
// was asked, so W4, which measures the flow itself (scrypt login, consent page), is never run
// against this server. Benchmark-only, loopback-only; bench/bare-provider.ts refuses production.
import Router from '@koa/router';
import type Provider from 'oidc-provider';

interface MissingDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

async function formBody(req: NodeJS.ReadableStream): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return new URLSearchParams(text);
}

export function bareInteractions(provider: Provider): Router {
  const router = new Router();

  router.get('/interaction/:uid', async (ctx) => {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name === 'login') {
      const uid = encodeURIComponent(details.uid);
      ctx.type = 'html';
      ctx.body = `<form method="post" action="/interaction/${uid}/login"><input type="hidden" name="csrf" value="${uid}"><input name="email"><input name="password" type="password"></form>`;
      return;
    }
    // Consent: everything the client asked for, in the grant it has or a new one.
    const accountId = details.session?.accountId as string;
    const clientId = String(details.params.client_id);
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
    if (!grant) throw new Error(`grant ${details.grantId} is gone`);
    const missing = details.prompt.details as MissingDetails;
    if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    ctx.status = 303;
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true }));
  });

  router.post('/interaction/:uid/login', async (ctx) => {
    const email = (await formBody(ctx.req)).get('email');
    if (!email) return ctx.throw(400, 'email is required');
    ctx.status = 303;
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: email } }, { mergeWithLastSubmission: false }));
  });

  return router;
}
