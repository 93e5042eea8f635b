// The account area's side of the login session. There is one session: oidc-provider's own, read
// and written through its Session model, so signing in to an app signs in to the account area
// and signing in here signs in to the authorization endpoint (prompt=none included).
//
// Reading is what the provider documents for pages of the authorization server itself
// (docs/README.md, "How to display ... if the user is signed-in or not": `Session.get(ctx)`).
// Writing from outside its routes is ours to do, and does what the provider does on a login
// (lib/actions/authorization/resume.js): `loginAccount`, and a new id for a session that already
// existed, so a cookie value from before the sign-in never becomes a signed-in session (T31);
// then what its session middleware does at the end of each of its requests
// (lib/shared/session.js): save the session for `ttl.Session` and set the session cookie, named
// by `provider.cookieName('session')`, holding the session id, signed with the cookie keys the
// provider also has (app.ts gives both the same), with the options configuration.ts gives it
// (`cookies.long`) and an expiry at the session's, as the provider sets for a remembered login.
// test/flows/account-sign-in.test.ts holds both directions (prompt=none included), and
// test/security/t31-account-sign-in-session.test.ts the cookie to the provider's own.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Accounts, User } from '../services/accounts.ts';
import type { Csrf } from '../http/csrf.ts';
import { field } from '../http/body.ts';
import { formExpired, HttpError } from '../http/errors.ts';
import { passwordStrength, type Strength } from '../services/authentication-strength.ts';

type Session = Awaited<ReturnType<Provider['Session']['get']>>;

export interface AccountSessionDeps {
  provider: Provider;
  accounts: Accounts;
  /** `ttl.Session` of the provider (SESSION_TTL), seconds. */
  sessionTtl: number;
  /** Whether cookies are Secure (an https issuer), as the provider's are. */
  secureCookies: boolean;
}

export interface SignedIn {
  user: User;
  /** The session's id: what the account area's forms are bound to (it changes at each sign-in). */
  sessionId: string;
}

export function createAccountSession(deps: AccountSessionDeps) {
  const { provider, accounts } = deps;

  const load = (ctx: Context): Promise<Session> => provider.Session.get(ctx as never);

  return {
    /** The live account this browser is signed in as, or undefined (none, removed or disabled). */
    async current(ctx: Context): Promise<SignedIn | undefined> {
      const session = await load(ctx);
      const user = session.accountId ? await accounts.findById(session.accountId) : undefined;
      return user && !user.disabled ? { user, sessionId: session.jti } : undefined;
    },

    /** Signs this browser in as `accountId` (with a password unless said), as the interaction login does. */
    async signIn(ctx: Context, accountId: string, strength: Strength = passwordStrength()): Promise<void> {
      let session = await load(ctx);
      if (session.accountId) {
        // A session of an account that is gone or disabled (a live one is never replaced here):
        // start a new one rather than hand its apps and its uid, which its tokens are bound to,
        // to someone else.
        await session.destroy();
        session = new provider.Session();
      } else if (!(session as { new?: boolean }).new) {
        session.resetIdentifier();
      }
      // remember: true in the interaction login, so not transient: the cookie outlives the browser.
      session.loginAccount({ accountId, ...strength });
      await session.save(deps.sessionTtl);
      ctx.cookies.set(provider.cookieName('session'), session.jti, {
        httpOnly: true,
        sameSite: 'lax',
        secure: deps.secureCookies,
        path: '/',
        signed: true,
        overwrite: true,
        expires: new Date(session.exp * 1000),
      });
    },
  };
}

export type AccountSession = ReturnType<typeof createAccountSession>;

/** What the account area's forms are bound to (CSRF): the login session, new at each sign-in. */
export function accountFormBinding(signedIn: SignedIn): string {
  return `account:${signedIn.sessionId}`;
}

/**
 * The account behind a posted account-area form, its CSRF token checked against this session;
 * a form posted after signing out is a 401 page that says what it would have managed.
 */
export async function signedInForm(ctx: Context, session: AccountSession, csrf: Csrf, manage: string): Promise<SignedIn> {
  const signedIn = await session.current(ctx);
  if (!signedIn) throw new HttpError(401, 'login_required', `Your session has ended. Sign in again to manage your ${manage}.`, { title: 'Signed out' });
  if (!csrf.verify(accountFormBinding(signedIn), field(ctx.request.body, 'csrf'))) throw formExpired();
  return signedIn;
}
