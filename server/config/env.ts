// Configuration from environment variables: parsed once, validated at start-up, frozen.
// Every key is documented here and in docs/configuration.md.
import path from 'node:path';
import type { ThrottleSettings } from '../security/throttle.ts';
import { ConfigError, readBoolean, readChoice, readInteger, type Env } from './read-env.ts';

export { ConfigError };

export type DatabaseConfig =
  | { client: 'sqlite'; filename: string; synchronous: 'FULL' | 'NORMAL' }
  | { client: 'pg'; connectionString: string; /** Connections this process may hold (DATABASE_POOL_MAX). */ poolMax?: number };

export interface Config {
  /** `development` (default) generates keys and seeds demo data; `production` requires both to be provided. */
  env: 'development' | 'production' | 'test';
  /** Issuer identifier URL (RFC 8414 §2): what tokens say in `iss`. */
  issuer: string;
  port: number;
  /** `sqlite:<path>` (default `sqlite:data/latchkey.sqlite`) or `postgres://...`. */
  database: DatabaseConfig;
  /** Where signing keys, cookie keys and the at-rest data key live (outside the database). */
  keysFile: string;
  /** Inline key material (JSON, same shape as the keys file); wins over `keysFile` when set. */
  keysJson: string | undefined;
  /** Trust X-Forwarded-* headers. Only behind a proxy that overwrites them. */
  trustProxy: boolean;
  /**
   * How many trusted proxies append to X-Forwarded-For: the client address is the entry this
   * many from the right (what the outermost trusted proxy saw). Entries further left are the
   * client's own claim. 1 with TRUST_PROXY.
   */
  proxyHops: number;
  /** Seed the demo user, clients and resource server into an empty database. */
  seedDemo: boolean;
  /** Seconds between purges of expired rows. */
  purgeIntervalSeconds: number;
  /** Seconds during which a retried refresh returns the same successor pair (0 = off). */
  refreshGraceSeconds: number;
  /** How long a user may let an app keep access, offered on the consent page (s; 0 = until revoked). */
  grantDurations: number[];
  /** The choice ticked by default (one of grantDurations). */
  grantDurationDefault: number;
  throttle: ThrottleSettings;
  /**
   * Dynamic client registration (RFC 7591): `token` needs an initial access token, `open` lets
   * anyone register (MCP clients do), `off` has no registration endpoint at all.
   */
  dynamicRegistration: 'token' | 'open' | 'off';
  /** Accept https URLs as client ids and fetch their metadata documents (draft-ietf-oauth-client-id-metadata-document). */
  clientIdMetadataDocuments: boolean;
  /** Development only: metadata documents may be fetched from loopback addresses (tests serve them there). */
  cimdAllowLoopback: boolean;
  /** DPoP proofs (RFC 9449) must carry a nonce this server handed out (§8), at every endpoint that takes them. */
  dpopNonce: boolean;
  /** Every client must push its authorization requests (RFC 9126), not only those registered to. */
  requirePar: boolean;
  /**
   * PASSKEY_AS_SECOND_FACTOR: after a password, a user who has passkeys is asked for one;
   * `optional` lets them go on without it, `required-when-registered` does not (issue 19).
   */
  passkeyAsSecondFactor: 'optional' | 'required-when-registered';
  /** How often each instance checks the database for rotated signing and cookie keys (s, at most 60). */
  keysPollSeconds: number;
  /** After SIGTERM, how long readiness answers 503 while requests are still accepted (s). */
  shutdownDrainSeconds: number;
  /** Then how long in-flight requests may take to finish before their connections are closed (s). */
  shutdownTimeoutSeconds: number;
  log: {
    /** pino level: fatal, error, warn, info, debug, trace or silent. */
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /** `json` (one object per line) or `pretty` (development; needs the pino-pretty package). */
    format: 'json' | 'pretty';
  };
  metrics: {
    /** A separate listener for GET /metrics, needing no token (keep it off the public network). */
    port: number | undefined;
    host: string;
    /** Serves /metrics on the main port to `Authorization: Bearer <token>` only. */
    token: string | undefined;
  };
  ttl: {
    accessToken: number;
    clientCredentials: number;
    authorizationCode: number;
    idToken: number;
    refreshToken: number;
    grant: number;
    session: number;
    interaction: number;
  };
}

const DAY = 24 * 60 * 60;

function readEnvironment(env: Env): Config['env'] {
  const raw = env.NODE_ENV?.trim() || 'development';
  if (raw === 'development' || raw === 'production' || raw === 'test') return raw;
  throw new ConfigError(`NODE_ENV must be development, production or test, got ${JSON.stringify(raw)}`);
}

/** localhost, 127.0.0.0/8 or [::1]: an address only this machine can reach. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(hostname);
}

/**
 * Outside production the server seeds a demo user with a published password and generates its
 * own keys: fine on a developer's machine, an open door anywhere else. Forgetting
 * NODE_ENV=production on a reachable address must fail closed.
 */
function refuseDevelopmentOnPublicIssuer(env: Env, issuer: string, mode: Config['env']): void {
  if (mode === 'production' || isLoopbackHost(new URL(issuer).hostname)) return;
  if (readBoolean(env, 'ALLOW_DEV_ON_PUBLIC_ISSUER', false)) return;
  throw new ConfigError(
    `ISSUER ${issuer} is not a loopback address, but NODE_ENV is ${mode}: outside production the server seeds a demo user ` +
      'with a published password and generates its own keys. For a server others can reach, set NODE_ENV=production ' +
      '(it needs an https ISSUER and key material in KEYS_FILE or LATCHKEY_KEYS: npx latchkey keys init --file PATH). ' +
      'To run development mode on this address anyway, set ALLOW_DEV_ON_PUBLIC_ISSUER=true.',
  );
}

function readIssuer(env: Env, port: number, mode: Config['env']): string {
  const raw = env.ISSUER?.trim() || `http://localhost:${port}`;
  const url = URL.parse(raw);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new ConfigError(`ISSUER must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  // RFC 8414 §2: the issuer has no query or fragment.
  if (url.search || url.hash || raw.includes('#') || raw.includes('?')) {
    throw new ConfigError(`ISSUER must not contain a query or fragment, got ${JSON.stringify(raw)}`);
  }
  if (mode === 'production' && url.protocol !== 'https:') {
    throw new ConfigError('ISSUER must use https in production (RFC 9700 §2.6)');
  }
  // The provider appends paths to the issuer; a trailing slash would give `//auth`.
  const issuer = raw.replace(/\/+$/, '');
  refuseDevelopmentOnPublicIssuer(env, issuer, mode);
  return issuer;
}

export function parseDatabaseUrl(raw: string, synchronous: 'FULL' | 'NORMAL' = 'FULL'): DatabaseConfig {
  if (/^postgres(ql)?:\/\//i.test(raw)) {
    if (!URL.parse(raw)) throw new ConfigError('DATABASE_URL is not a valid postgres:// URL');
    return { client: 'pg', connectionString: raw };
  }
  const match = /^sqlite:(?:\/\/)?(.+)$/i.exec(raw);
  if (match?.[1]) {
    const target = match[1];
    const filename = target === ':memory:' ? ':memory:' : path.resolve(target);
    return { client: 'sqlite', filename, synchronous };
  }
  throw new ConfigError(
    `DATABASE_URL must be sqlite:<path> or postgres://user:pass@host/db, got ${JSON.stringify(raw)}`,
  );
}

function readDurations(env: Env, cap: number): number[] {
  const explicit = env.GRANT_DURATIONS?.trim();
  if (!explicit) {
    // The defaults that fit under GRANT_TTL, and always "until revoked" (which ends at GRANT_TTL).
    return [3600, DAY, 30 * DAY].filter((d) => d < cap).concat(0);
  }
  const raw = explicit;
  const values = raw.split(',').map((part) => part.trim());
  if (values.some((v) => !/^\d+$/.test(v))) {
    throw new ConfigError(`GRANT_DURATIONS must be comma-separated seconds (0 = until revoked), got ${JSON.stringify(raw)}`);
  }
  const durations = [...new Set(values.map(Number))];
  const tooLong = durations.find((d) => d > cap);
  if (tooLong !== undefined) throw new ConfigError(`GRANT_DURATIONS: ${tooLong} exceeds GRANT_TTL (${cap})`);
  return durations;
}

/** Metrics are not public: a listener of their own (METRICS_PORT), or a bearer token (METRICS_TOKEN), or none. */
function readMetrics(env: Env): Config['metrics'] {
  const rawPort = env.METRICS_PORT?.trim();
  const port = rawPort ? readInteger(env, 'METRICS_PORT', 0, { min: 1, max: 65535 }) : undefined;
  const token = env.METRICS_TOKEN?.trim() || undefined;
  if (token !== undefined && token.length < 16) throw new ConfigError('METRICS_TOKEN must be at least 16 characters: it guards the metrics endpoint on the public port');
  return { port, host: env.METRICS_HOST?.trim() || '127.0.0.1', token };
}

function readSynchronous(env: Env): 'FULL' | 'NORMAL' {
  const raw = (env.SQLITE_SYNCHRONOUS?.trim() || 'FULL').toUpperCase();
  if (raw === 'FULL' || raw === 'NORMAL') return raw;
  throw new ConfigError(`SQLITE_SYNCHRONOUS must be FULL or NORMAL, got ${JSON.stringify(env.SQLITE_SYNCHRONOUS)}`);
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const mode = readEnvironment(env);
  const port = readInteger(env, 'PORT', 3000, { min: 0, max: 65535 });
  const parsed = parseDatabaseUrl(env.DATABASE_URL?.trim() || 'sqlite:data/latchkey.sqlite', readSynchronous(env));
  const database: DatabaseConfig = parsed.client === 'pg' ? { ...parsed, poolMax: readInteger(env, 'DATABASE_POOL_MAX', 10, { min: 1, max: 1000 }) } : parsed;

  const ttl = {
    accessToken: readInteger(env, 'ACCESS_TOKEN_TTL', 600, { min: 10, max: DAY }),
    clientCredentials: readInteger(env, 'CLIENT_CREDENTIALS_TTL', 600, { min: 10, max: DAY }),
    // RFC 9700 §4.2.1 / ASVS 10.4.3: codes live a minute at most by default.
    authorizationCode: readInteger(env, 'AUTHORIZATION_CODE_TTL', 60, { min: 5, max: 600 }),
    idToken: readInteger(env, 'ID_TOKEN_TTL', 3600, { min: 60, max: DAY }),
    refreshToken: readInteger(env, 'REFRESH_TOKEN_TTL', 14 * DAY, { min: 5, max: 365 * DAY }),
    // "Until you revoke it" on the consent page still ends here: the absolute cap on a grant.
    grant: readInteger(env, 'GRANT_TTL', 365 * DAY, { min: 5, max: 5 * 365 * DAY }),
    session: readInteger(env, 'SESSION_TTL', DAY, { min: 60, max: 90 * DAY }),
    interaction: readInteger(env, 'INTERACTION_TTL', 1800, { min: 60, max: DAY }),
  };
  // The grant caps every refresh token issued under it (oidc-provider ttl.Grant):
  // a shorter grant would silently cut refresh tokens short.
  if (ttl.grant < ttl.refreshToken) {
    throw new ConfigError(`GRANT_TTL (${ttl.grant}) must be at least REFRESH_TOKEN_TTL (${ttl.refreshToken})`);
  }

  const grantDurations = readDurations(env, ttl.grant);
  const grantDurationDefault = readInteger(env, 'GRANT_DURATION_DEFAULT', grantDurations.includes(30 * DAY) ? 30 * DAY : (grantDurations[grantDurations.length - 1] as number), {
    min: 0,
    max: ttl.grant,
  });
  if (!grantDurations.includes(grantDurationDefault)) {
    throw new ConfigError(`GRANT_DURATION_DEFAULT (${grantDurationDefault}) must be one of GRANT_DURATIONS (${grantDurations.join(',')})`);
  }

  const cimdAllowLoopback = readBoolean(env, 'CIMD_ALLOW_LOOPBACK', false);
  if (cimdAllowLoopback && mode === 'production') {
    throw new ConfigError('CIMD_ALLOW_LOOPBACK is for development and tests only: in production a client metadata document is never fetched from a loopback or private address');
  }
  const trustProxy = readBoolean(env, 'TRUST_PROXY', false);
  if (!trustProxy && env.PROXY_HOPS?.trim()) throw new ConfigError('PROXY_HOPS is set but TRUST_PROXY is not: forwarded headers are ignored unless TRUST_PROXY=true');
  const proxyHops = readInteger(env, 'PROXY_HOPS', 1, { min: 1, max: 10 });

  const config: Config = {
    env: mode,
    issuer: readIssuer(env, port, mode),
    port,
    database,
    keysFile: path.resolve(env.KEYS_FILE?.trim() || 'data/keys.json'),
    keysJson: env.LATCHKEY_KEYS?.trim() || undefined,
    trustProxy,
    proxyHops,
    seedDemo: readBoolean(env, 'SEED_DEMO', mode !== 'production'),
    purgeIntervalSeconds: readInteger(env, 'PURGE_INTERVAL', 300, { min: 1, max: DAY }),
    // Decision: a short window, at most 10 s, only for the immediately previous token.
    refreshGraceSeconds: readInteger(env, 'REFRESH_GRACE_SECONDS', 5, { min: 0, max: 10 }),
    grantDurations,
    grantDurationDefault,
    keysPollSeconds: readInteger(env, 'KEYS_POLL_SECONDS', 15, { min: 1, max: 60 }),
    shutdownDrainSeconds: readInteger(env, 'SHUTDOWN_DRAIN', 5, { min: 0, max: 120 }),
    shutdownTimeoutSeconds: readInteger(env, 'SHUTDOWN_TIMEOUT', 10, { min: 1, max: 300 }),
    log: {
      level: readChoice(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
      format: readChoice(env, 'LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
    },
    metrics: readMetrics(env),
    dynamicRegistration: readChoice(env, 'DYNAMIC_REGISTRATION', ['token', 'open', 'off'] as const, 'token'),
    clientIdMetadataDocuments: readBoolean(env, 'CLIENT_ID_METADATA_DOCUMENTS', true),
    cimdAllowLoopback,
    dpopNonce: readBoolean(env, 'DPOP_NONCE', false),
    requirePar: readBoolean(env, 'REQUIRE_PAR', false),
    passkeyAsSecondFactor: readChoice(env, 'PASSKEY_AS_SECOND_FACTOR', ['optional', 'required-when-registered'] as const, 'optional'),
    throttle: {
      loginFreeAttempts: readInteger(env, 'LOGIN_FREE_ATTEMPTS', 5, { min: 1, max: 100 }),
      loginBackoffSeconds: readInteger(env, 'LOGIN_BACKOFF_SECONDS', 30, { min: 1, max: 3600 }),
      loginBackoffMaxSeconds: readInteger(env, 'LOGIN_BACKOFF_MAX_SECONDS', 900, { min: 1, max: DAY }),
      loginIpAttempts: readInteger(env, 'LOGIN_IP_ATTEMPTS', 100, { min: 1, max: 100_000 }),
      loginAccountAttempts: readInteger(env, 'LOGIN_ACCOUNT_ATTEMPTS', 20, { min: 1, max: 100_000 }),
      clientAuthAttempts: readInteger(env, 'CLIENT_AUTH_ATTEMPTS', 20, { min: 1, max: 100_000 }),
      clientAuthIpAttempts: readInteger(env, 'CLIENT_AUTH_IP_ATTEMPTS', 100, { min: 1, max: 100_000 }),
      registrationsPerToken: readInteger(env, 'REGISTRATIONS_PER_TOKEN', 50, { min: 1, max: 100_000 }),
      registrationsPerIp: readInteger(env, 'REGISTRATIONS_PER_IP', 20, { min: 1, max: 100_000 }),
    },
    ttl,
  };
  return Object.freeze({
    ...config,
    ttl: Object.freeze(ttl),
    throttle: Object.freeze(config.throttle),
    log: Object.freeze(config.log),
    metrics: Object.freeze(config.metrics),
  });
}
