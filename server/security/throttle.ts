// Abuse limits, with state in the database (rate-limiter-flexible) so they hold across restarts
// and instances: login back-off (login-throttle.ts), failed client authentication per (client
// id, address) and per address, and dynamic registration per initial access token and per IP.
//
// A defence must not become the attack: every limit here slows the address (or browser) that
// fails, never the account or client it fails against, so a stranger cannot lock a user out or
// switch a client off.
import type { Knex } from 'knex';
import sqlite3 from 'sqlite3';
import { RateLimiterPostgres, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { DatabaseConfig } from '../config/env.ts';
import { createLoginThrottle } from './login-throttle.ts';
import { key, retryAfter, Throttled, type LimiterFactory } from './limits.ts';

export { Throttled };

export interface ThrottleSettings {
  /** Failed logins per (account, address or known device) allowed before back-off starts. */
  loginFreeAttempts: number;
  /** First back-off (s), doubling with each further failure... */
  loginBackoffSeconds: number;
  /** ...up to this (s). */
  loginBackoffMaxSeconds: number;
  /** Failed logins per client IP per 15 minutes. */
  loginIpAttempts: number;
  /**
   * Failed logins per account per hour from browsers that never signed in to it, before those
   * are slowed to one attempt per back-off window (a browser that signed in before is not).
   */
  loginAccountAttempts: number;
  /** Failed client authentications per (client id, address) per minute before 429. */
  clientAuthAttempts: number;
  /** Failed client authentications per address per minute, whatever the client, before 429. */
  clientAuthIpAttempts: number;
  /** Registrations per initial access token per hour, and per IP per hour. */
  registrationsPerToken: number;
  registrationsPerIp: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = {
  loginFreeAttempts: 5,
  loginBackoffSeconds: 30,
  loginBackoffMaxSeconds: 15 * 60,
  loginIpAttempts: 100,
  loginAccountAttempts: 20,
  clientAuthAttempts: 20,
  clientAuthIpAttempts: 100,
  registrationsPerToken: 50,
  registrationsPerIp: 20,
};

const TABLE = 'rate_limits';

function limiterFactory(db: Knex, database: DatabaseConfig, onStatement?: (sql: string) => void): { create: LimiterFactory; close(): Promise<void> } {
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
  if (onStatement) connection.on('trace', (sql: string) => onStatement(`limiter: ${sql}`));
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

export function createThrottle(
  db: Knex,
  database: DatabaseConfig,
  settings: ThrottleSettings = DEFAULT_THROTTLE,
  onStatement?: (sql: string) => void,
  /** Told which limit refused a request (the metrics). */
  onThrottled?: (limit: 'login' | 'client_auth' | 'registration') => void,
) {
  const { create, close } = limiterFactory(db, database, onStatement);
  // Counted only when a secret was wrong: a right secret is never slowed, looked up or counted.
  const clientAuthPair = create({ keyPrefix: 'client-auth-pair', points: settings.clientAuthAttempts, duration: 60 });
  const clientAuthIp = create({ keyPrefix: 'client-auth-ip', points: settings.clientAuthIpAttempts, duration: 60 });
  const registrationToken = create({ keyPrefix: 'reg-iat', points: settings.registrationsPerToken, duration: 3600 });
  const registrationIp = create({ keyPrefix: 'reg-ip', points: settings.registrationsPerIp, duration: 3600 });

  return {
    login: createLoginThrottle(create, settings, () => onThrottled?.('login')),

    /**
     * Call after a wrong client secret. Counts it against the (client id, address) pair and the
     * address; throws Throttled once either is over its limit, so that address's further wrong
     * secrets answer 429. Nobody else is affected: the client keeps working from every other
     * address, and from this one with its right secret (256-bit secrets are not guessed; this
     * answers noise and load, and never lets a stranger switch a client off).
     */
    async clientAuthFailed(clientId: string, ip: string): Promise<void> {
      try {
        await Promise.all([clientAuthPair.consume(key('client', clientId, ip)), clientAuthIp.consume(key('ip', ip))]);
      } catch (res) {
        if (res instanceof RateLimiterRes) {
          onThrottled?.('client_auth');
          throw new Throttled(retryAfter(res));
        }
        throw res;
      }
    },

    /** Counts one registration attempt; throws Throttled over the limit. */
    async registration(initialAccessToken: string | undefined, ip: string): Promise<void> {
      try {
        await registrationIp.consume(key('ip', ip));
        if (initialAccessToken) await registrationToken.consume(key('iat', initialAccessToken));
      } catch (res) {
        if (res instanceof RateLimiterRes) {
          onThrottled?.('registration');
          throw new Throttled(retryAfter(res));
        }
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
