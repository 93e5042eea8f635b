// Login and consent pages. These routes only translate: prompt → page, form → interaction result.
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Views } from '../http/views.ts';
import type { Csrf } from '../http/csrf.ts';
import { allowFormAction } from '../http/security-headers.ts';
import { formExpired, HttpError } from '../http/errors.ts';
import { interactionExpiredAsPage } from './interaction-expired.ts';
import { field, formBody } from '../http/body.ts';
import { describeClient } from './consent-view.ts';
import { ConsentRefused, type ConsentStep, type Details } from './consent.ts';
import type { Audit } from '../services/audit.ts';
import type { PasswordSignIn } from './password-sign-in.ts';
import type { PasskeyStep } from './interaction-passkey.ts';
import { passwordStrength } from '../services/authentication-strength.ts';

export interface InteractionDeps {
  provider: Provider;
  views: Views;
  csrf: Csrf;
  /** The throttled password check the account area's sign-in uses too (password-sign-in.ts). */
  passwordSignIn: PasswordSignIn;
  consent: ConsentStep;
  audit: Audit;
  /** Passkey sign-in, second step and step-up (interaction-passkey.ts). */
  passkeyStep?: PasskeyStep | undefined;
}

export function interactionRoutes(deps: InteractionDeps): Router {
  const { provider, views, csrf } = deps;
  const router = new Router();

  /** The interaction this browser is in, checked against the URL it is acting on. */
  async function load(ctx: Context): Promise<Details> {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid) {
      throw new HttpError(400, 'invalid_request', 'This page does not belong to the sign-in you are in. Start again from the app.');
    }
    const redirectUri = details.params.redirect_uri;
    // The forms end in a redirect to the client's (already validated) redirect_uri.
    if (typeof redirectUri === 'string') allowFormAction(ctx, redirectUri);
    return details;
  }

  function requireCsrf(ctx: Context, details: Details) {
    if (!csrf.verify(`interaction:${details.uid}`, field(ctx.request.body, 'csrf'))) throw formExpired();
  }

  async function finish(ctx: Context, result: Parameters<Provider['interactionResult']>[2], merge: boolean) {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    // RFC 9700 §4.12: 303 after a POST so the browser does not re-send the credentials.
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  async function deny(ctx: Context, details: Details) {
    if (details.session?.accountId) {
      await deps.audit.record({ event: 'consent.denied', accountId: details.session.accountId, clientId: String(details.params.client_id), actor: 'user' });
    }
    await finish(ctx, { error: 'access_denied', error_description: 'The user did not grant access' }, false);
  }

  async function renderLogin(ctx: Context, details: Details, extra: { error?: string; email?: string } = {}, status = 200) {
    const client = await provider.Client.find(String(details.params.client_id));
    const loginHint = typeof details.params.login_hint === 'string' ? details.params.login_hint : undefined;
    await views.respond(
      ctx,
      'login',
      {
        title: 'Sign in',
        uid: details.uid,
        csrf: csrf.tokenFor(`interaction:${details.uid}`),
        client: client ? describeClient(client) : undefined,
        email: extra.email ?? loginHint ?? '',
        error: extra.error,
        passkeys: deps.passkeyStep?.loginView(details),
      },
      status,
    );
  }

  if (deps.passkeyStep) deps.passkeyStep.renderLogin = renderLogin;

  router.use(interactionExpiredAsPage);

  router.get('/interaction/:uid', async (ctx) => {
    const details = await load(ctx);
    if (details.prompt.name === 'login') return (await deps.passkeyStep?.render(ctx, details)) || renderLogin(ctx, details);
    if (details.prompt.name !== 'consent') {
      throw new HttpError(400, 'invalid_request', 'This sign-in step is not supported.');
    }
    await deps.consent.render(ctx, details);
  });

  router.post('/interaction/:uid/login', formBody, async (ctx) => {
    const details = await load(ctx);
    requireCsrf(ctx, details);
    if (details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'You are already signed in. Go back to the app.');
    const email = field(ctx.request.body, 'email')?.trim() ?? '';
    const password = field(ctx.request.body, 'password') ?? '';
    const outcome = await deps.passwordSignIn(ctx, { email, password, clientId: String(details.params.client_id) });
    if ('refusal' in outcome) return renderLogin(ctx, details, { error: outcome.refusal.message, email }, outcome.refusal.status);
    if (await deps.passkeyStep?.afterPassword(ctx, details, outcome.user)) return;
    await finish(ctx, { login: { accountId: outcome.user.id, ...passwordStrength(), remember: true } }, false);
  });

  router.post('/interaction/:uid/consent', formBody, async (ctx) => {
    const details = await load(ctx);
    requireCsrf(ctx, details);
    if (details.prompt.name !== 'consent') throw new HttpError(400, 'invalid_request', 'There is nothing to approve on this request.');
    // The same form sent twice (a double click, a resubmission) records the approval once.
    const already = (details.result as { consent?: { grantId?: string } } | undefined)?.consent?.grantId;
    if (already) {
      ctx.status = 303;
      ctx.redirect(details.returnTo);
      return;
    }
    try {
      const grantId = await deps.consent.submit(ctx, details);
      await finish(ctx, { consent: { grantId } }, true);
    } catch (error) {
      if (!(error instanceof ConsentRefused)) throw error;
      // Unticking everything is a Deny.
      await deny(ctx, details);
    }
  });

  // Deny on the consent page, or cancel on the login page: the app receives access_denied.
  router.post('/interaction/:uid/abort', formBody, async (ctx) => {
    const details = await load(ctx);
    requireCsrf(ctx, details);
    await deny(ctx, details);
  });

  return router;
}
