// Shared set-up for the adapter contract tests: a fresh, migrated database of one kind, a sealer
// keyed like the server's, a controllable clock and helpers to read rows raw. Not a test file.
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { expect } from 'vitest';
import { errors } from 'oidc-provider';
import { createSealer, type Sealer } from '../../adapters/at-rest.ts';
import { PayloadAdapter } from '../../adapters/knex-adapter.ts';
import { migrateToLatest } from '../../adapters/migrations/index.ts';
import { parseDatabaseUrl } from '../../server/config/env.ts';
import { generateKeyMaterial } from '../../server/config/keys.ts';
import { createDatabase } from '../../server/db/knex.ts';
import { rowsOf } from '../../adapters/rows.ts';
import { adapterErrors } from '../../server/oidc/provider.ts';
import { freshDatabase, type StoreKind } from '../helpers/databases.ts';

/** Every model oidc-provider stores through the payload adapter (Client goes to ClientStore). */
export const PAYLOAD_MODELS = [
  'Session',
  'Interaction',
  'Grant',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'PushedAuthorizationRequest',
  'ReplayDetection',
] as const;
export type PayloadModel = (typeof PAYLOAD_MODELS)[number];

/** Models whose second consume is a lost race on a grant: the client must see invalid_grant. */
export const CODE_MODELS = [
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
] as const;

/** Models whose payloads carry a top-level grantId (what revokeByGrantId keys on). */
export const GRANT_BOUND_MODELS: readonly string[] = [
  'Interaction',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
];

/** Models that `upsert` may overwrite (ReplayDetection is insert-only). */
export const UPSERTABLE_MODELS = PAYLOAD_MODELS.filter((m) => m !== 'ReplayDetection');

/** A realistic epoch (ms) for the injected clock; far from 0 so `consumed` seconds are truthy. */
export const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

export interface Clock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function clock(start = T0): Clock {
  let t = start;
  return {
    now: () => t,
    set(ms) {
      t = ms;
    },
    advance(ms) {
      t += ms;
    },
  };
}

export interface TestStore {
  kind: StoreKind;
  db: Knex;
  sealer: Sealer;
  clock: Clock;
  /** The database URL, for a second, independent connection pool (another server instance). */
  url: string;
  /** The SQLite file (sqlite only). */
  file?: string;
  adapter(model: string): PayloadAdapter;
  close(): Promise<void>;
}

export async function openStore(kind: StoreKind): Promise<TestStore> {
  const fresh = await freshDatabase(kind);
  const db = createDatabase(parseDatabaseUrl(fresh.url));
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    await fresh.drop();
    throw error;
  }
  const sealer = createSealer(generateKeyMaterial().data);
  const c = clock();
  return {
    kind,
    db,
    sealer,
    clock: c,
    url: fresh.url,
    file: fresh.file,
    adapter: (model) => new PayloadAdapter(db, model, sealer, { errors: adapterErrors, now: c.now }),
    async close() {
      await db.destroy();
      await fresh.drop();
    },
  };
}

/** 256-bit random, base64url: the shape of oidc-provider's ids. */
export function randomId(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export interface StoredRow {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  account_id: string | null;
  client_id: string | null;
  expires_at: number | string | null;
  consumed_at: number | string | null;
}

/** The raw row for (model, raw id), looked up by digest as the adapter stores it. */
export async function rawRow(store: TestStore, model: string, id: string): Promise<StoredRow | undefined> {
  const rows = rowsOf<StoredRow>(
    await store.db.raw('SELECT * FROM oidc_payloads WHERE model = ? AND id = ?', [model, store.sealer.digest(id)]),
  );
  return rows[0];
}

export async function countRows(store: TestStore, where = '1 = 1', bindings: Knex.RawBinding[] = []): Promise<number> {
  const rows = rowsOf<{ n: number | string }>(
    await store.db.raw(`SELECT COUNT(*) AS n FROM oidc_payloads WHERE ${where}`, bindings),
  );
  return Number(rows[0]?.n ?? 0);
}

export interface PayloadParts {
  grantId?: string;
  accountId?: string;
  clientId?: string;
  uid?: string;
  userCode?: string;
  marker?: string;
}

/**
 * A payload shaped like the one oidc-provider saves for `model` (the fields the adapter reads
 * plus some it must carry through untouched). `jti` is always the id, as in the library.
 */
export function payloadFor(model: string, id: string, parts: PayloadParts = {}): Record<string, unknown> {
  const iat = Math.floor(T0 / 1000);
  const base: Record<string, unknown> = { jti: id, kind: model, iat, exp: iat + 3600 };
  const marker = parts.marker ?? `marker-${randomId()}`;
  const accountId = parts.accountId ?? `account-${randomId().slice(0, 12)}`;
  const clientId = parts.clientId ?? `client-${randomId().slice(0, 12)}`;
  const grantId = parts.grantId ?? randomId();
  switch (model) {
    case 'Session':
      return {
        ...base,
        uid: parts.uid ?? randomId(),
        accountId,
        loginTs: iat,
        authorizations: { [clientId]: { sid: randomId(), grantId, persistsLogout: false } },
        extra: { marker },
      };
    case 'Interaction':
      return {
        ...base,
        returnTo: `https://issuer.test/auth/${id}`,
        prompt: { name: 'login', reasons: ['no_session'], details: {} },
        params: { client_id: clientId, scope: 'openid', state: marker },
        session: { accountId, uid: randomId(), cookie: randomId() },
        grantId,
      };
    case 'Grant':
      return {
        ...base,
        accountId,
        clientId,
        openid: { scope: 'openid email' },
        resources: { 'https://contacts.api.test': `contacts:read ${marker}` },
      };
    case 'DeviceCode':
      return {
        ...base,
        userCode: parts.userCode ?? `${randomId().slice(0, 4)}-${randomId().slice(0, 4)}`,
        grantId,
        accountId,
        clientId,
        params: { client_id: clientId, scope: 'openid' },
        deviceInfo: { ip: '127.0.0.1', ua: marker },
        scope: 'openid',
      };
    case 'ReplayDetection':
      return { ...base, iss: marker };
    case 'InitialAccessToken':
      return { ...base, policies: [marker] };
    case 'RegistrationAccessToken':
      return { ...base, clientId, policies: [marker] };
    case 'PushedAuthorizationRequest':
      return { ...base, clientId, request: `eyJhbGciOiJub25lIn0.${marker}.`, trusted: true };
    case 'ClientCredentials':
      return { ...base, clientId, scope: 'contacts:read', aud: 'https://contacts.api.test', extra: { marker } };
    default:
      // AccessToken, AuthorizationCode, RefreshToken, BackchannelAuthenticationRequest, PreAuthorizedCode
      return {
        ...base,
        grantId,
        accountId,
        clientId,
        scope: 'openid contacts:read',
        resource: 'https://contacts.api.test',
        extra: { marker },
        ...(model === 'AuthorizationCode'
          ? { redirectUri: 'http://127.0.0.1:9999/cb', codeChallenge: marker, codeChallengeMethod: 'S256' }
          : {}),
        ...(model === 'RefreshToken' ? { rotations: 0, iiat: iat } : {}),
      };
  }
}

/** Asserts `promise` rejects with an oidc-provider error of the given code and status. */
export async function expectProviderError(promise: Promise<unknown>, code: string, status: number) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(errors.OIDCProviderError);
  const e = error as InstanceType<typeof errors.OIDCProviderError>;
  expect(e.error).toBe(code);
  expect(e.statusCode).toBe(status);
  return e;
}
