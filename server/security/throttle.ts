// Abuse limits, with state in the database (rate-limiter-flexible) so they hold across restarts
// and instances: login back-off per account and per client IP, failed client authentication
// per client id, and dynamic registration per initial access token and per IP.
//
// Login back-off is temporary and exponential, never a permanent lockout: a permanent lockout
// would let anyone lock a victim out by typing wrong passwords (T41; Keycloak's brute-force notes).
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import sqlite3 from 'sqlite3';
import { RateLimiterPostgres, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { DatabaseConfig } from '../config/env.ts';

export interface ThrottleSettings {
  /** Failed logins per account allowed before back-off starts. */
  loginFreeAttempts: number;
  /** First back-off (s), doubling with each further failure... */
  loginBackoffSeconds: number;
  /** ...up to this (s). */
  loginBackoffMaxSeconds: number;
  /** Failed logins per client IP per 15 minutes. */
  loginIpAttempts: number;
  /** Failed client authentications per client id before a 60 s pause. */
  clientAuthAttempts: number;
  /** Registrations per initial access token per hour, and per IP per hour. */
  registrationsPerToken: number;
  registrationsPerIp: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = {
  loginFreeAttempts: 5,
  loginBackoffSeconds: 30,
  loginBackoffMaxSeconds: 15 * 60,
  loginIpAttempts: 100,
  clientAuthAttempts: 20,
  registrationsPerToken: 50,
  registrationsPerIp: 20,
};

/** The request must wait; answered with 429 and Retry-After. */
export class Throttled extends Error {
  override name = 'Throttled';
  constructor(readonly retryAfterSeconds: number) {
    super(`too many attempts; retry after ${retryAfterSeconds} s`);
  }
}

const TABLE = 'rate_limits';
const CLEAN_FOR_MS = 1000;
const WINDOW_LOGIN_FAILURES = 3600;

function retryAfter(res: unknown): number {
  return res instanceof RateLimiterRes ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : 60;
}

/** Keys are digests: the table never holds an email address or an IP in the clear. */
function key(...parts: string[]): string {
  return crypto.createHash('sha256').update(parts.join('\0')).digest('base64url');
}

type LimiterFactory = (options: { keyPrefix: string; points: number; duration: number }) => RateLimiterAbstract;

function limiterFactory(db: Knex, database: DatabaseConfig, counter?: { add(n?: number, sql?: string): void }): { create: LimiterFactory; close(): Promise<void> } {
  if (database.client === 'pg') {
    return {
      create: (options) =>
        new RateLimiterPostgres({ ...options, storeClient: db, storeType: 'knex', tableName: TABLE, tableCreated: true, clearExpiredByTimeout: false }),
      close: async () => undefined,
    };
  }
  // A connection of its own on the same file: the library runs its statements on the raw
  // connection, which must not interleave with Knex's transactions on our pooled one. And one
  // operation at a time on it: the library wraps each upsert in a SAVEPOINT, and concurrent
  // upserts on one connection nest them and can leave a write transaction open (seen here:
  // every other writer then fails with SQLITE_BUSY).
  const connection = new sqlite3.Database(database.filename);
  connection.configure('busyTimeout', 5000);
  // Benchmarks count this connection's statements too (Knex's are counted by its events).
  if (counter) connection.on('trace', (sql: string) => counter.add(1, `limiter: ${sql}`));
  let queue: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(operation: () => Promise<T>): Promise<T> => {
    const run = queue.then(operation, operation);
    queue = run.catch(() => undefined);
    return run;
  };
  const serialized = (limiter: RateLimiterAbstract): RateLimiterAbstract =>
    new Proxy(limiter, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || !['consume', 'get', 'delete', 'penalty', 'reward', 'block', 'set'].includes(String(property))) {
          return value;
        }
        return (...args: unknown[]) => oneAtATime(() => value.apply(target, args));
      },
    });
  return {
    create: (options) =>
      serialized(
        new RateLimiterSQLite({ ...options, storeClient: connection, storeType: 'sqlite3', tableName: TABLE, tableCreated: true, clearExpiredByTimeout: false }),
      ),
    close: () => oneAtATime(() => new Promise<void>((resolve) => connection.close(() => resolve()))),
  };
}

export function createThrottle(db: Knex, database: DatabaseConfig, settings: ThrottleSettings = DEFAULT_THROTTLE, counter?: { add(n?: number, sql?: string): void }) {
  const { create, close } = limiterFactory(db, database, counter);
  const loginFailures = create({ keyPrefix: 'login-fail', points: 1_000_000, duration: WINDOW_LOGIN_FAILURES });
  // One attempt per back-off window once the free attempts are used up.
  const loginGate = create({ keyPrefix: 'login-gate', points: 1, duration: settings.loginBackoffSeconds });
  const loginIp = create({ keyPrefix: 'login-ip', points: settings.loginIpAttempts, duration: 15 * 60 });
  const clientAuth = create({ keyPrefix: 'client-auth', points: settings.clientAuthAttempts, duration: 60 });
  const registrationToken = create({ keyPrefix: 'reg-iat', points: settings.registrationsPerToken, duration: 3600 });
  const registrationIp = create({ keyPrefix: 'reg-ip', points: settings.registrationsPerIp, duration: 3600 });

  /** Client ids seen with no failures, and when (performance.now()). */
  const cleanClients = new Map<string, number>();

  function backoffSeconds(failure: number): number {
    const beyond = failure - settings.loginFreeAttempts - 1;
    return Math.min(settings.loginBackoffSeconds * 2 ** Math.min(beyond, 20), settings.loginBackoffMaxSeconds);
  }

  return {
    /**
     * Call before checking a password. Reserves the attempt atomically, so parallel guesses
     * cannot overrun the limit; throws Throttled when the attempt must wait.
     * Returns the callbacks to report the outcome.
     */
    async beginLogin(email: string, ip: string): Promise<{ succeeded(): Promise<void> }> {
      const account = key('account', email.trim().toLowerCase());
      const address = key('ip', ip);
      try {
        await loginIp.consume(address);
      } catch (res) {
        if (res instanceof RateLimiterRes) throw new Throttled(retryAfter(res));
        throw res;
      }
      const { consumedPoints: failure } = await loginFailures.consume(account);
      if (failure > settings.loginFreeAttempts) {
        try {
          await loginGate.consume(account, 1, { customDuration: backoffSeconds(failure) });
        } catch (res) {
          if (res instanceof RateLimiterRes) throw new Throttled(retryAfter(res));
          throw res;
        }
      }
      return {
        async succeeded() {
          await Promise.all([loginFailures.delete(account), loginGate.delete(account), loginIp.reward(address, 1)]);
        },
      };
    },

    /**
     * Call before comparing a client secret; throws Throttled while the client id is paused.
     * A client with no recent failure is not looked up again for a second: client
     * authentication is on every token request, failures are rare, and a pause lasts a minute.
     */
    async checkClientAuth(clientId: string): Promise<void> {
      const clean = cleanClients.get(clientId);
      if (clean !== undefined && performance.now() - clean < CLEAN_FOR_MS) return;
      const res = await clientAuth.get(key('client', clientId));
      if (res && res.consumedPoints >= settings.clientAuthAttempts) throw new Throttled(retryAfter(res));
      if (!res || res.consumedPoints === 0) {
        cleanClients.set(clientId, performance.now());
        if (cleanClients.size > 10_000) cleanClients.delete(cleanClients.keys().next().value as string);
      } else cleanClients.delete(clientId);
    },

    async clientAuthFailed(clientId: string): Promise<void> {
      cleanClients.delete(clientId);
      await clientAuth.penalty(key('client', clientId), 1);
    },

    /** Counts one registration attempt; throws Throttled over the limit. */
    async registration(initialAccessToken: string | undefined, ip: string): Promise<void> {
      try {
        await registrationIp.consume(key('ip', ip));
        if (initialAccessToken) await registrationToken.consume(key('iat', initialAccessToken));
      } catch (res) {
        if (res instanceof RateLimiterRes) throw new Throttled(retryAfter(res));
        throw res;
      }
    },

    /** Deletes expired counters in one bounded batch. */
    async purge(now = Date.now()): Promise<number> {
      return db(TABLE)
        .whereIn('key', db(TABLE).select('key').whereNotNull('expire').andWhere('expire', '<', now).limit(1000))
        .delete();
    },

    close,
  };
}

export type Throttle = ReturnType<typeof createThrottle>;
