// Signing in to the account area: a first-party form on our own page, checked by the same
// throttled password sign-in as the interaction login (password-sign-in.ts), ending in the
// provider's login session (account-session.ts), then back to /account. No OAuth client is
// involved: the account area is the authorization server's own page, not an app.
//
// The form's CSRF token is bound to a random value in a cookie of this browser, set with the
// page: the form is not bound to a session (there is none yet), and without it another site
// could sign a visitor in to the site's own account (login CSRF) and watch what they connect.
import crypto from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Views } from '../http/views.ts';
import type { Csrf } from '../http/csrf.ts';
import { field, formBody } from '../http/body.ts';
import { formExpired } from '../http/errors.ts';
import type { AccountSession } from './account-session.ts';
import type { PasswordSignIn } from './password-sign-in.ts';
import type { PasskeySignIn } from './passkey-sign-in.ts';
import type { Passkeys } from '../services/passkeys.ts';
import { passkeyStrength } from '../services/authentication-strength.ts';

export const SIGN_IN_PATH = '/account/sign-in';

export interface AccountSignInDeps {
  session: AccountSession;
  passwordSignIn: PasswordSignIn;
  views: Views;
  csrf: Csrf;
  /** How long a sign-in form stays usable (INTERACTION_TTL, as for the interaction login), seconds. */
  formTtl: number;
  secureCookies: boolean;
  /**
   * Passkey sign-in on this page too (issue 19), the challenge bound to the form's cookie. With
   * PASSKEY_AS_SECOND_FACTOR=required-when-registered a password alone does not sign in an
   * account that has a passkey here either: it signs in with the passkey.
   */
  passkeys?: { passkeys: Passkeys; signIn: PasskeySignIn; secondFactor: 'optional' | 'required-when-registered' } | undefined;
}

export function accountSignInRoutes(deps: AccountSignInDeps): Router {
  const { session, views, csrf } = deps;
  const router = new Router();
  // __Secure-: only sent over https, set only by a secure page (RFC 6265bis §4.1.3.1).
  const FORM_COOKIE = deps.secureCookies ? '__Secure-latchkey.sign-in' : 'latchkey.sign-in';
  const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, path: '/account', overwrite: true } as const;

  /** This browser's sign-in form binding: the cookie's value, or a new one. */
  function formBinding(ctx: Context): string {
    const existing = ctx.cookies.get(FORM_COOKIE, { signed: true });
    const value = existing && /^[A-Za-z0-9_-]{22}$/.test(existing) ? existing : crypto.randomBytes(16).toString('base64url');
    ctx.cookies.set(FORM_COOKIE, value, { ...cookieOptions, maxAge: deps.formTtl * 1000 });
    return `account-sign-in:${value}`;
  }

  async function renderForm(ctx: Context, binding: string, extra: { error?: string; email?: string } = {}, status = 200) {
    const passkeys = deps.passkeys?.passkeys.enabled ? { options: `${SIGN_IN_PATH}/passkey/options`, action: `${SIGN_IN_PATH}/passkey` } : undefined;
    await views.respond(ctx, 'account-sign-in', { title: 'Sign in', csrf: csrf.tokenFor(binding), email: extra.email ?? '', error: extra.error, passkeys }, status);
  }

  function toAccount(ctx: Context) {
    ctx.status = 303;
    ctx.redirect('/account');
  }

  router.get(SIGN_IN_PATH, async (ctx) => {
    if (await session.current(ctx)) return toAccount(ctx);
    await renderForm(ctx, formBinding(ctx));
  });

  /** The binding of the form this POST came from, its CSRF token checked. */
  function postedBinding(ctx: Context): string {
    const value = ctx.cookies.get(FORM_COOKIE, { signed: true });
    const binding = `account-sign-in:${value}`;
    if (!value || !csrf.verify(binding, field(ctx.request.body, 'csrf'))) throw formExpired();
    return binding;
  }

  router.post(`${SIGN_IN_PATH}/passkey/options`, formBody, async (ctx) => {
    const binding = postedBinding(ctx);
    if (!deps.passkeys?.passkeys.enabled) throw formExpired();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.passkeys.passkeys.authenticationOptions(binding);
  });

  router.post(`${SIGN_IN_PATH}/passkey`, formBody, async (ctx) => {
    const binding = postedBinding(ctx);
    if (!deps.passkeys) throw formExpired();
    if (await session.current(ctx)) return toAccount(ctx);
    const outcome = await deps.passkeys.signIn(ctx, { binding, credential: field(ctx.request.body, 'credential') });
    if ('refusal' in outcome) return renderForm(ctx, binding, { error: outcome.refusal.message }, outcome.refusal.status);
    await session.signIn(ctx, outcome.user.id, passkeyStrength());
    ctx.cookies.set(FORM_COOKIE, '', { ...cookieOptions, maxAge: 0 });
    toAccount(ctx);
  });

  router.post('/account/login', formBody, async (ctx) => {
    const binding = postedBinding(ctx);
    // Signed in meanwhile (another tab): nothing to do, and no password is looked at.
    if (await session.current(ctx)) return toAccount(ctx);
    const email = field(ctx.request.body, 'email')?.trim() ?? '';
    const outcome = await deps.passwordSignIn(ctx, { email, password: field(ctx.request.body, 'password') ?? '' });
    if ('refusal' in outcome) return renderForm(ctx, binding, { error: outcome.refusal.message, email }, outcome.refusal.status);
    const pk = deps.passkeys;
    if (pk?.passkeys.enabled && pk.secondFactor === 'required-when-registered' && (await pk.passkeys.count(outcome.user.id)) > 0) {
      return renderForm(ctx, binding, { error: 'Your account also needs its passkey: choose “Sign in with a passkey”.', email }, 401);
    }
    await session.signIn(ctx, outcome.user.id);
    ctx.cookies.set(FORM_COOKIE, '', { ...cookieOptions, maxAge: 0 });
    // RFC 9700 §4.12: 303 after a POST so the browser does not re-send the credentials.
    toAccount(ctx);
  });

  return router;
}
