// One password sign-in attempt, as every sign-in form of ours makes it: the login back-off
// (security/login-throttle.ts) asked before the password is checked, the device cookie that
// lets a browser which signed in before past a stranger's guesses, one message for an unknown
// email and a wrong password, and the audit and metrics lines. The interaction login
// (interaction.ts) and the account area's sign-in (account-sign-in.ts) both use it, so they
// answer alike and count against the same budgets
// (test/security/t41-account-sign-in-throttling.test.ts).
import type { Context } from 'koa';
import { normalizeEmail, type Accounts, type User } from '../services/accounts.ts';
import type { Audit } from '../services/audit.ts';
import { Throttled, type Throttle } from '../security/throttle.ts';
import type { LoginAttempt } from '../security/login-throttle.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { DeviceCookie } from '../http/device-cookie.ts';

export interface PasswordSignInDeps {
  accounts: Accounts;
  throttle: Throttle;
  devices: DeviceCookie;
  audit: Audit;
  metrics: Pick<Metrics, 'loginFailures'>;
}

/** The form's answer when the attempt does not sign anyone in: shown above the form. */
export interface Refusal {
  status: 400 | 401 | 429;
  message: string;
}

export type SignInOutcome = { user: User } | { refusal: Refusal };

/**
 * Asks the login back-off for a place before any credential is checked (so a guess during
 * back-off learns nothing, right or wrong); over budget, the form's 429 with Retry-After.
 */
export async function beginSignInAttempt(ctx: Context, throttle: Throttle, request: Parameters<Throttle['login']['begin']>[0]): Promise<{ pending: LoginAttempt } | { refusal: Refusal }> {
  try {
    return { pending: await throttle.login.begin(request) };
  } catch (error) {
    if (!(error instanceof Throttled)) throw error;
    ctx.set('Retry-After', String(error.retryAfterSeconds));
    const wait = error.retryAfterSeconds >= 120 ? `${Math.ceil(error.retryAfterSeconds / 60)} minutes` : `${error.retryAfterSeconds} seconds`;
    return { refusal: { status: 429, message: `Too many failed sign-in attempts. Wait ${wait} and try again.` } };
  }
}

export function createPasswordSignIn(deps: PasswordSignInDeps) {
  const { accounts } = deps;

  return async function attempt(ctx: Context, credentials: { email: string; password: string; clientId?: string | undefined }): Promise<SignInOutcome> {
    const { email, password, clientId } = credentials;
    if (!email || !password) return { refusal: { status: 400, message: 'Enter your email address and password.' } };
    const account = normalizeEmail(email);
    const knownDevice = deps.devices.knownDeviceFor(ctx, account);
    const place = await beginSignInAttempt(ctx, deps.throttle, { email: account, ip: ctx.ip, knownDevice });
    if ('refusal' in place) return place;
    const { pending } = place;
    const user = await accounts.authenticate(email, password);
    if (!user) {
      await pending.failed();
      deps.metrics.loginFailures.inc();
      const known = await accounts.findByEmail(email);
      deps.audit.note({ event: 'login.failure', accountId: known?.id, clientId, ip: ctx.ip, details: { reason: 'bad credentials' } });
      // One message for unknown email and wrong password: no account enumeration.
      return { refusal: { status: 401, message: 'Incorrect email or password.' } };
    }
    await pending.succeeded();
    deps.devices.remember(ctx, account);
    deps.audit.note({ event: 'login.success', accountId: user.id, clientId, ip: ctx.ip });
    return { user };
  };
}

export type PasswordSignIn = ReturnType<typeof createPasswordSignIn>;
