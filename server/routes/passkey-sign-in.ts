// One passkey sign-in attempt, as every sign-in form of ours makes it (the passkey counterpart
// of password-sign-in.ts): the same login back-off, asked before the assertion is checked, the
// same device cookie, the same audit and metrics lines, and a refusal that is an ordinary page
// (a cancelled, replayed, foreign or unknown credential never becomes a 500).
//
// An assertion names its credential; the back-off counts it against that credential's account
// (so guesses at someone's passkey share that account's budgets with password guesses), or,
// for a credential nobody registered, against that credential id and the address.
import type { Context } from 'koa';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { normalizeEmail, type Accounts, type User } from '../services/accounts.ts';
import type { Audit } from '../services/audit.ts';
import { parseCredential, type Passkeys, type StoredPasskey } from '../services/passkeys.ts';
import type { Throttle } from '../security/throttle.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { DeviceCookie } from '../http/device-cookie.ts';
import { beginSignInAttempt, type Refusal } from './password-sign-in.ts';

export interface PasskeySignInDeps {
  passkeys: Passkeys;
  accounts: Accounts;
  throttle: Throttle;
  devices: DeviceCookie;
  audit: Audit;
  metrics: Pick<Metrics, 'loginFailures'>;
}

export type PasskeyOutcome = { user: User; passkey: StoredPasskey } | { refusal: Refusal };

const NOT_COMPLETED: Refusal = { status: 400, message: 'The passkey sign-in did not complete. Try again, or use your password.' };
const NOT_ACCEPTED: Refusal = { status: 401, message: 'That passkey could not sign you in here. It may have been removed, made for another site, or the request expired. Try again, or use your password.' };

export function createPasskeySignIn(deps: PasskeySignInDeps) {
  const { passkeys, accounts } = deps;

  /**
   * Checks the browser's `credential` JSON against the challenge bound to `binding`. With
   * `accountId` (a second step or a step-up), only that account's passkeys are accepted.
   */
  return async function attempt(ctx: Context, input: { binding: string; credential: string | undefined; accountId?: string | undefined; clientId?: string | undefined }): Promise<PasskeyOutcome> {
    if (!passkeys.enabled) return { refusal: NOT_COMPLETED };
    const response = parseCredential<AuthenticationResponseJSON>(input.credential);
    if (!response) return { refusal: NOT_COMPLETED };
    const passkey = await passkeys.find(response.id);
    const owner = passkey ? await accounts.findById(passkey.accountId) : undefined;
    const email = owner ? normalizeEmail(owner.email) : `passkey:${response.id.slice(0, 200)}`;
    const place = await beginSignInAttempt(ctx, deps.throttle, { email, ip: ctx.ip, knownDevice: owner ? deps.devices.knownDeviceFor(ctx, email) : undefined });
    if ('refusal' in place) return place;
    const { pending } = place;
    const wrongAccount = input.accountId !== undefined && passkey?.accountId !== input.accountId;
    const verified = passkey && owner && !owner.disabled && !wrongAccount ? await passkeys.verify(input.binding, response, passkey) : { reason: passkey ? 'not usable for this account' : 'unknown credential' };
    if ('reason' in verified || !owner) {
      await pending.failed();
      deps.metrics.loginFailures.inc();
      deps.audit.note({ event: 'login.failure', accountId: owner?.id, clientId: input.clientId, ip: ctx.ip, details: { method: 'passkey', reason: 'reason' in verified ? verified.reason.slice(0, 200) : 'unknown' } });
      return { refusal: NOT_ACCEPTED };
    }
    await pending.succeeded();
    deps.devices.remember(ctx, email);
    deps.audit.note({ event: 'login.success', accountId: owner.id, clientId: input.clientId, ip: ctx.ip, details: { method: 'passkey', passkey: verified.passkey.name } });
    return { user: owner, passkey: verified.passkey };
  };
}

export type PasskeySignIn = ReturnType<typeof createPasskeySignIn>;
