// Passkeys in the sign-in of an authorization request (issue 19). Three ways in, one ceremony:
// - "Sign in with a passkey" on the login page (a discoverable credential: no email first;
//   conditional UI offers it in the email field's autofill where the browser can);
// - a second step after the password (PASSKEY_AS_SECOND_FACTOR) for a user who has passkeys:
//   `optional` offers it with a way past, `required-when-registered` does not;
// - a step-up for a session signed in with a password when the request needs a passkey (an API's
//   `--require-passkey-for` scope, or `acr_values`: oidc/passkey-policy.ts), before consent. A
//   user without a passkey is told which API needs one and where to add it, and can go back to
//   the app, which then receives access_denied.
// Every challenge is bound to the interaction (`interaction:<uid>`) and used once; a password
// verified for the second step is kept in the interaction's result, never in this process.
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Views } from '../http/views.ts';
import type { Csrf } from '../http/csrf.ts';
import { allowFormAction } from '../http/security-headers.ts';
import { formExpired, HttpError } from '../http/errors.ts';
import { interactionExpiredAsPage } from './interaction-expired.ts';
import { field, formBody } from '../http/body.ts';
import type { User } from '../services/accounts.ts';
import type { Passkeys } from '../services/passkeys.ts';
import type { ResourceCatalog } from '../services/resources.ts';
import { passkeyStrength, passwordStrength } from '../services/authentication-strength.ts';
import { PASSKEY_REQUIRED, passkeyReasons } from '../oidc/passkey-policy.ts';
import { describeClient } from './consent-view.ts';
import type { PasskeySignIn } from './passkey-sign-in.ts';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export type SecondFactor = 'optional' | 'required-when-registered';

export interface PasskeyStepDeps {
  provider: Provider;
  passkeys: Passkeys;
  passkeySignIn: PasskeySignIn;
  catalog: ResourceCatalog;
  views: Views;
  csrf: Csrf;
  secondFactor: SecondFactor;
}

/** A password checked in this interaction, waiting for the passkey of the second step. */
interface PasswordStep {
  accountId: string;
  email: string;
}

const PASSWORD_STEP = 'latchkeyPasswordStep';

function passwordStepOf(details: Details): PasswordStep | undefined {
  const step = (details.result as Record<string, unknown> | undefined)?.[PASSWORD_STEP] as PasswordStep | undefined;
  return step && typeof step.accountId === 'string' ? step : undefined;
}

/** A session signed in below the strength this request needs (the login check's reason). */
function stepUpAccount(details: Details): string | undefined {
  if (!details.prompt.reasons.includes(PASSKEY_REQUIRED)) return undefined;
  return details.session?.accountId;
}

export function createPasskeyStep(deps: PasskeyStepDeps) {
  const { provider, passkeys, views, csrf } = deps;

  async function load(ctx: Context): Promise<Details> {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid) throw new HttpError(400, 'invalid_request', 'This page does not belong to the sign-in you are in. Start again from the app.');
    if (details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', 'You are already signed in. Go back to the app.');
    const redirectUri = details.params.redirect_uri;
    if (typeof redirectUri === 'string') allowFormAction(ctx, redirectUri);
    if (!csrf.verify(`interaction:${details.uid}`, field(ctx.request.body, 'csrf'))) throw formExpired();
    return details;
  }

  async function finish(ctx: Context, result: Parameters<Provider['interactionResult']>[2]) {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  /** Why a passkey is asked for: "Contacts API requires a passkey for: Change your contacts". */
  async function reasons(details: Details): Promise<string[]> {
    return passkeyReasons(await deps.catalog.current(), details.params);
  }

  /** The step page: a passkey for `accountId`, after a password or as a step-up. */
  async function renderStep(ctx: Context, details: Details, accountId: string, kind: 'second-factor' | 'step-up', extra: { error?: string } = {}, status = 200) {
    const client = await provider.Client.find(String(details.params.client_id));
    const count = await passkeys.count(accountId);
    await views.respond(
      ctx,
      'passkey-step',
      {
        title: count ? 'Confirm with your passkey' : 'A passkey is needed',
        uid: details.uid,
        csrf: csrf.tokenFor(`interaction:${details.uid}`),
        client: client ? describeClient(client) : undefined,
        kind,
        hasPasskey: count > 0 && passkeys.enabled,
        canSkip: kind === 'second-factor' && deps.secondFactor === 'optional',
        reasons: kind === 'step-up' ? await reasons(details) : [],
        error: extra.error,
      },
      status,
    );
  }

  const router = new Router();
  router.use(interactionExpiredAsPage);

  // Options for navigator.credentials.get(): any discoverable passkey on the login page, only
  // the account's own for a second step or a step-up.
  router.post('/interaction/:uid/passkey/options', formBody, async (ctx) => {
    const details = await load(ctx);
    if (!passkeys.enabled) throw new HttpError(404, 'not_found', 'Passkeys are not available on this server.');
    const accountId = passwordStepOf(details)?.accountId ?? stepUpAccount(details);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await passkeys.authenticationOptions(`interaction:${details.uid}`, accountId);
  });

  router.post('/interaction/:uid/passkey', formBody, async (ctx) => {
    const details = await load(ctx);
    const pending = passwordStepOf(details);
    const stepUp = pending ? undefined : stepUpAccount(details);
    const accountId = pending?.accountId ?? stepUp;
    const outcome = await deps.passkeySignIn(ctx, { binding: `interaction:${details.uid}`, credential: field(ctx.request.body, 'credential'), accountId, clientId: String(details.params.client_id) });
    if ('refusal' in outcome) {
      if (accountId) return renderStep(ctx, details, accountId, pending ? 'second-factor' : 'step-up', { error: outcome.refusal.message }, outcome.refusal.status);
      return api.renderLogin(ctx, details, { error: outcome.refusal.message }, outcome.refusal.status);
    }
    // A password in this sign-in (the second step) or in the session being stepped up: both factors.
    const earlier = pending ? ['pwd'] : stepUp ? ((details.session as { amr?: string[] } | undefined)?.amr ?? []) : [];
    await finish(ctx, { login: { accountId: outcome.user.id, ...passkeyStrength(earlier), remember: true } });
  });

  // PASSKEY_AS_SECOND_FACTOR=optional: the user goes on with the password alone.
  router.post('/interaction/:uid/passkey/skip', formBody, async (ctx) => {
    const details = await load(ctx);
    const pending = passwordStepOf(details);
    if (!pending || deps.secondFactor !== 'optional') throw new HttpError(400, 'invalid_request', 'This sign-in step cannot be skipped.');
    await finish(ctx, { login: { accountId: pending.accountId, ...passwordStrength(), remember: true } });
  });

  // "Back to the app" from the step page: the app learns why it got no token.
  router.post('/interaction/:uid/passkey/abort', formBody, async (ctx) => {
    const details = await load(ctx);
    const description = passwordStepOf(details) ? 'The user did not complete the sign-in' : 'A passkey sign-in is required for the requested access and the user did not complete one';
    await finish(ctx, { error: 'access_denied', error_description: description });
  });

  const api = {
    routes: router,
    /** Filled in by interaction.ts: its login page, for a refused passkey sign-in. */
    renderLogin: (async () => undefined) as (ctx: Context, details: Details, extra: { error?: string }, status: number) => Promise<void>,

    /** What the login page needs to offer passkeys (undefined: not offered, e.g. an IP-address issuer). */
    loginView(details: Details) {
      return passkeys.enabled ? { options: `/interaction/${details.uid}/passkey/options`, action: `/interaction/${details.uid}/passkey` } : undefined;
    },

    /** The GET of a login prompt: the step-up or second-step page when one is due; false otherwise. */
    async render(ctx: Context, details: Details): Promise<boolean> {
      const pending = passwordStepOf(details);
      if (pending) {
        await renderStep(ctx, details, pending.accountId, 'second-factor');
        return true;
      }
      const stepUp = stepUpAccount(details);
      if (!stepUp) return false;
      await renderStep(ctx, details, stepUp, 'step-up');
      return true;
    },

    /**
     * After a correct password: the second step when it applies (the password is kept in the
     * interaction until then, and the page shown); false to sign in with the password now.
     */
    async afterPassword(ctx: Context, details: Details, user: User): Promise<boolean> {
      if (!passkeys.enabled || (await passkeys.count(user.id)) === 0) return false;
      const step: PasswordStep = { accountId: user.id, email: user.email };
      details.result = { [PASSWORD_STEP]: step };
      await details.save(Math.max(1, (details.exp ?? 0) - Math.floor(Date.now() / 1000)));
      ctx.status = 303;
      ctx.redirect(`/interaction/${details.uid}`);
      return true;
    },
  };
  return api;
}

export type PasskeyStep = ReturnType<typeof createPasskeyStep>;
