// Login back-off that stops guessing without handing anyone a lockout (T41; OWASP "Slow down
// online guessing attacks with device cookies").
//
// Three budgets of failed sign-ins, each counted only when a password was wrong:
// - per (account, address), or per (account, browser) for a browser that signed in to this
//   account before (a device cookie): a few free failures, then one attempt per back-off window,
//   doubling. Someone else's wrong guesses, from anywhere, never slow a known browser down.
// - per address (LOGIN_IP_ATTEMPTS per 15 min), for one address guessing across many accounts.
// - per account, from browsers that never signed in to it (LOGIN_ACCOUNT_ATTEMPTS per hour),
//   for guesses spread over many addresses: beyond it those browsers get one attempt per back-off
//   window, so a fresh browser waits at most one window; known browsers are not counted.
//
// A successful sign-in never counts against anything, and concurrent attempts cannot overrun a
// budget: each attempt first reserves a place (counted with the failures already recorded) and
// gives it back when it is decided. An attempt that finds the budget full only because others
// are still being decided waits for them instead of being refused, so many people signing in at
// once behind one address all get in. During a back-off every password is refused alike, so the
// refusal tells a guesser nothing.
import { RateLimiterRes } from 'rate-limiter-flexible';
import { key, retryAfter, Throttled, type LimiterFactory } from './limits.ts';
import type { ThrottleSettings } from './throttle.ts';

/** How an attempt that is over its scope's budget is treated. */
type OverBudget = 'back-off' | 'refuse';

interface Scope {
  key: string;
  /** Failures allowed within the window before `over` applies. */
  budget: number;
  /** How long failures are remembered (s). */
  window: number;
  over: OverBudget;
}

export interface LoginAttempt {
  /** The password was right: reservations are given back, the pair's failures forgotten. */
  succeeded(): Promise<void>;
  /** The password was wrong (or the account unknown): counted in every budget. */
  failed(): Promise<void>;
}

export interface LoginSource {
  /** The normalised email being signed in to (known account or not: both are treated alike). */
  email: string;
  ip: string;
  /** The browser's device cookie id, when it proves an earlier sign-in to this email. */
  knownDevice?: string | undefined;
}

/** In-flight reservations older than this are dropped (a process that died mid-attempt). */
const RESERVATION_SECONDS = 30;
/** How long an attempt waits for others to be decided before giving up with a short 429. */
const WAIT_FOR_OTHERS_MS = 5000;
const IP_WINDOW = 15 * 60;
const HOUR = 3600;
/** Large enough never to refuse: these limiters count, the budgets decide. */
const UNBOUNDED = 1_000_000_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createLoginThrottle(create: LimiterFactory, settings: ThrottleSettings, onThrottled?: () => void) {
  const reserved = create({ keyPrefix: 'login-pending', points: UNBOUNDED, duration: RESERVATION_SECONDS });
  const failures = create({ keyPrefix: 'login-failures', points: UNBOUNDED, duration: HOUR });
  // One attempt per back-off window once a budget is spent.
  const gate = create({ keyPrefix: 'login-gate', points: 1, duration: settings.loginBackoffSeconds });

  function backoffSeconds(beyond: number): number {
    return Math.min(settings.loginBackoffSeconds * 2 ** Math.min(Math.max(beyond, 0), 20), settings.loginBackoffMaxSeconds);
  }

  function scopesFor({ email, ip, knownDevice }: LoginSource): Scope[] {
    const pair: Scope = {
      key: knownDevice ? key('pair-device', email, knownDevice) : key('pair-ip', email, ip),
      budget: settings.loginFreeAttempts,
      window: HOUR,
      over: 'back-off',
    };
    if (knownDevice) return [pair];
    return [
      pair,
      { key: key('ip', ip), budget: settings.loginIpAttempts, window: IP_WINDOW, over: 'refuse' },
      { key: key('account', email), budget: settings.loginAccountAttempts, window: HOUR, over: 'back-off' },
    ];
  }

  /**
   * Lets the attempt through this scope, or throws Throttled. Returns whether it holds a
   * reservation (to give back later) or passed the back-off gate (which needs none).
   */
  async function admit(scope: Scope): Promise<'reserved' | 'gated'> {
    const deadline = performance.now() + WAIT_FOR_OTHERS_MS;
    for (;;) {
      // Reserve first, then read the failures: a concurrent attempt records its failure before
      // giving its reservation back, so one of the two counts always sees the other.
      const { consumedPoints: pending } = await reserved.consume(scope.key);
      const recorded = await failures.get(scope.key);
      const failed = recorded?.consumedPoints ?? 0;
      if (failed >= scope.budget) {
        await reserved.reward(scope.key);
        if (scope.over === 'refuse') throw new Throttled(retryAfter(recorded));
        try {
          await gate.consume(scope.key, 1, { customDuration: backoffSeconds(failed - scope.budget) });
          return 'gated';
        } catch (res) {
          if (res instanceof RateLimiterRes) throw new Throttled(retryAfter(res));
          throw res;
        }
      }
      if (failed + pending <= scope.budget) return 'reserved';
      // Over budget only while others are being decided: wait for them.
      await reserved.reward(scope.key);
      if (performance.now() > deadline) throw new Throttled(1);
      await sleep(20 + Math.random() * 30);
    }
  }

  return {
    /**
     * Call before checking a password; throws Throttled when this attempt must wait (before the
     * password is looked at, so a guess during a back-off learns nothing, right or wrong).
     */
    async begin(source: LoginSource): Promise<LoginAttempt> {
      const scopes = scopesFor(source);
      const holding: Scope[] = [];
      const release = () => Promise.all(holding.map((scope) => reserved.reward(scope.key)));
      try {
        for (const scope of scopes) if ((await admit(scope)) === 'reserved') holding.push(scope);
      } catch (error) {
        await release();
        if (error instanceof Throttled) onThrottled?.();
        throw error;
      }
      let settled = false;
      return {
        async succeeded() {
          if (settled) return;
          settled = true;
          const [pair] = scopes as [Scope];
          await Promise.all([failures.delete(pair.key), gate.delete(pair.key)]);
          await release();
        },
        async failed() {
          if (settled) return;
          settled = true;
          // Record before giving the reservation back (see admit).
          await Promise.all(scopes.map((scope) => failures.consume(scope.key, 1, { customDuration: scope.window })));
          await release();
        },
      };
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
