// Reads of the payload table by primary key, batched.
//
// The provider looks a presented token up under several models at once (introspection without
// a hint tries AccessToken, ClientCredentials and RefreshToken in parallel), then its grant,
// then its session. And concurrent requests each do the same. Here every lookup by id made in
// one turn of the event loop becomes one statement, and each token row comes back with its
// grant and session rows joined, parked in the request's scope (request-scope.ts) for the
// provider's next lookup; so is the token's user, whose account the provider asks for next (a
// disabled or removed user ends a refresh). Every row is filtered exactly as a single lookup
// would be: unexpired, and not under a revoked grant's tombstone.
import type { Knex } from 'knex';
import { paddedToPowerOfTwo, rowsOf } from './rows.ts';
import { currentRequestScope, parkUser, prefetchKey, type PrefetchedRow, type RequestScope } from './request-scope.ts';
import type { StatementRunner } from './sqlite-statements.ts';

export const TABLE = 'oidc_payloads';
export const REVOKED = 'RevokedGrant';
/** Users, read with their tokens (request-scope.ts, takePrefetchedUser). */
const USERS = 'users';

/** `alias`'s row is not under a tombstone (a grant is its own family; see knex-adapter.ts). */
export function notRevoked(alias: string): string {
  return `(${alias}.grant_id IS NULL OR NOT EXISTS (SELECT 1 FROM ${TABLE} t WHERE t.model = '${REVOKED}' AND t.id = ${alias}.grant_id))`;
}
const unexpired = (alias: string) => `(${alias}.expires_at IS NULL OR ${alias}.expires_at > ?)`;

/** Bounds one statement's bindings well inside every driver's limit. */
const MAX_BATCH = 200;

interface Lookup {
  model: string;
  key: string;
  scope: RequestScope | undefined;
  resolve(row: PrefetchedRow | undefined): void;
  reject(error: unknown): void;
}

interface JoinedRow extends PrefetchedRow {
  model: string;
  grant_id: string | null;
  session_uid: string | null;
  g_id: string | null;
  g_payload: string | null;
  g_consumed_at: number | null;
  s_id: string | null;
  s_payload: string | null;
  s_consumed_at: number | null;
  account_id: string | null;
  u_id: string | null;
  u_email: string | null;
  u_name: string | null;
  u_email_verified: boolean | number | null;
  u_created_at: number | string | null;
  u_disabled_at: number | string | null;
}

export class PayloadReader {
  readonly #db: Knex;
  readonly #now: () => number;
  readonly #statements: StatementRunner | undefined;
  #queue: Lookup[] = [];
  #scheduled = false;

  /** With `statements` (SQLite), lookups run as reused prepared statements, not through Knex. */
  constructor(db: Knex, now: () => number = Date.now, statements?: StatementRunner) {
    this.#db = db;
    this.#now = now;
    this.#statements = statements;
  }

  /** The row of `model` with primary key digest `key`, if unexpired and not revoked. */
  findById(model: string, key: string): Promise<PrefetchedRow | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ model, key, scope: currentRequestScope(), resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    while (this.#queue.length > 0) void this.#run(this.#queue.splice(0, MAX_BATCH));
  }

  async #query(sql: string, bindings: Knex.RawBinding[]): Promise<JoinedRow[]> {
    if (this.#statements) return (await this.#statements.withConnection((execute) => execute(sql, bindings))) as JoinedRow[];
    return rowsOf<JoinedRow>(await this.#db.raw(sql, bindings));
  }

  async #run(batch: Lookup[]): Promise<void> {
    // IN lists padded to a power of two so the statement takes few shapes.
    const models = paddedToPowerOfTwo([...new Set(batch.map((l) => l.model))]);
    const keys = paddedToPowerOfTwo([...new Set(batch.map((l) => l.key))]);
    const now = this.#now();
    let rows: JoinedRow[];
    try {
      rows = await this.#query(
        `SELECT p.model, p.id, p.payload, p.consumed_at, p.grant_id, p.session_uid,
                g.id AS g_id, g.payload AS g_payload, g.consumed_at AS g_consumed_at,
                s.id AS s_id, s.payload AS s_payload, s.consumed_at AS s_consumed_at,
                p.account_id, u.id AS u_id, u.email AS u_email, u.name AS u_name,
                u.email_verified AS u_email_verified, u.created_at AS u_created_at, u.disabled_at AS u_disabled_at
         FROM ${TABLE} p
         LEFT JOIN ${TABLE} g ON p.model <> 'Grant' AND g.model = 'Grant' AND g.id = p.grant_id AND ${unexpired('g')}
         LEFT JOIN ${TABLE} s ON s.model = 'Session' AND s.uid = p.session_uid AND ${unexpired('s')} AND ${notRevoked('s')}
         LEFT JOIN ${USERS} u ON u.id = p.account_id
         WHERE p.model IN (${models.map(() => '?').join(', ')}) AND p.id IN (${keys.map(() => '?').join(', ')})
           AND ${unexpired('p')} AND ${notRevoked('p')}`,
        [now, now, ...models, ...keys, now],
      );
    } catch (error) {
      for (const lookup of batch) lookup.reject(error);
      return;
    }
    const byKey = new Map(rows.map((row) => [`${row.model}:${row.id}`, row]));
    for (const lookup of batch) {
      const row = byKey.get(`${lookup.model}:${lookup.key}`);
      if (row && lookup.scope) park(lookup.scope, row);
      lookup.resolve(row ? { id: row.id, payload: row.payload, consumed_at: row.consumed_at } : undefined);
    }
  }
}

function park(scope: RequestScope, row: JoinedRow): void {
  if (row.grant_id !== null && row.model !== 'Grant') {
    scope.set(prefetchKey('Grant', 'id', row.grant_id), row.g_id === null ? null : { id: row.g_id, payload: row.g_payload as string, consumed_at: row.g_consumed_at });
  }
  if (row.account_id !== null) {
    parkUser(
      scope,
      row.account_id,
      row.u_id === null
        ? null
        : {
            id: row.u_id,
            email: row.u_email as string,
            name: row.u_name,
            email_verified: row.u_email_verified as boolean | number,
            created_at: row.u_created_at as number | string,
            disabled_at: row.u_disabled_at,
          },
    );
  }
  if (row.session_uid !== null) {
    scope.set(
      prefetchKey('Session', 'uid', row.session_uid),
      row.s_id === null ? null : { id: row.s_id, payload: row.s_payload as string, consumed_at: row.s_consumed_at },
    );
  }
}
