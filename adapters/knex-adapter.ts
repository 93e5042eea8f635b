// oidc-provider's Adapter contract on Knex (SQLite or PostgreSQL).
//
// Every model except Client lives in one table keyed by (model, digest(id)). Lookup columns
// (grant_id, uid, user_code, account_id, client_id, expires_at, consumed_at) are denormalised
// from the payload so each access is one indexed statement. Payloads are sealed (see at-rest.ts).
// Clients live in their own table (client-store.ts) because operators and the CLI manage them.
// What the services ask of the table beyond this contract is in payload-queries.ts.
import type { Knex } from 'knex';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Sealer } from './at-rest.ts';
import type { ClientStore } from './client-store.ts';
import { rowsOf } from './rows.ts';
import { directWriter, type Write, type Writer } from './group-commit.ts';
import type { UpsertRow } from './payload-upsert.ts';
import { openUnit } from './write-unit.ts';
import { notRevoked, PayloadReader, REVOKED, TABLE } from './payload-reader.ts';
import { existingRequestScope, prefetchKey, takeParked, type PrefetchedRow } from './request-scope.ts';
import { openPayload } from './payload-queries.ts';

/** How storage-level refusals become protocol errors; supplied by the provider wiring. */
export interface AdapterErrors {
  /** A conditional consume found the row already consumed (a concurrent or repeated use). */
  alreadyConsumed(model: string): Error;
  /** An insert-only model (ReplayDetection) already holds this id. */
  replayed(model: string): Error;
  /** A token or grant was about to be written for a grant that has been revoked. */
  grantRevoked(model: string): Error;
}

export interface AdapterOptions {
  errors: AdapterErrors;
  /** Epoch milliseconds; injectable so tests can move time. */
  now?: () => number;
  /**
   * How long a revoked grant's tombstone is kept (s): at least as long as anything issued under
   * the grant can live (the grant's own lifetime).
   */
  revokedGrantTtl?: number;
  /** Where writes go: straight to the database, or through group commit (group-commit.ts). */
  writer?: Writer;
  /** Batched lookups by id, shared by every model's adapter (payload-reader.ts). */
  reader?: PayloadReader;
}

interface PayloadRow {
  payload: string;
  consumed_at: number | null;
}

/** Models whose ids must never be stored twice: a second insert is a replay. */
const INSERT_ONLY = new Set(['ReplayDetection', 'GraceReplay']);

/**
 * Revocation is a fact about the grant, not only about the rows that existed when it happened:
 * a tombstone row (model REVOKED, id = digest of the grant id) makes every lookup of that
 * grant's tokens miss and every later write under it fail, so a successor written a moment
 * after its family was revoked (a refresh racing a reuse detection) is dead too.
 */
export { REVOKED };
const NOT_REVOKED = notRevoked('p');
const DEFAULT_REVOKED_GRANT_TTL = 366 * 24 * 3600;

function lookupColumns(model: string, id: string, payload: AdapterPayload, sealer: Sealer) {
  // A grant is its own family: tombstoning it hides the grant as well as its tokens.
  const grantId = model === 'Grant' ? id : typeof payload.grantId === 'string' ? payload.grantId : undefined;
  return {
    grantId: grantId === undefined ? null : sealer.digest(grantId),
    uid: typeof payload.uid === 'string' ? sealer.digest(payload.uid) : null,
    userCode: typeof payload.userCode === 'string' ? sealer.digest(payload.userCode) : null,
    accountId: typeof payload.accountId === 'string' ? payload.accountId : null,
    clientId: typeof payload.clientId === 'string' ? payload.clientId : null,
    sessionUid: typeof payload.sessionUid === 'string' ? sealer.digest(payload.sessionUid) : null,
  };
}

export class PayloadAdapter implements Adapter {
  readonly #db: Knex;
  readonly #model: string;
  readonly #sealer: Sealer;
  readonly #errors: AdapterErrors;
  readonly #now: () => number;
  readonly #revokedGrantTtl: number;
  readonly #writer: Writer;
  readonly #reader: PayloadReader;

  constructor(db: Knex, model: string, sealer: Sealer, options: AdapterOptions) {
    this.#db = db;
    this.#model = model;
    this.#sealer = sealer;
    this.#errors = options.errors;
    this.#now = options.now ?? Date.now;
    this.#revokedGrantTtl = options.revokedGrantTtl ?? DEFAULT_REVOKED_GRANT_TTL;
    this.#writer = options.writer ?? directWriter(db);
    this.#reader = options.reader ?? new PayloadReader(db, this.#now);
  }

  /**
   * Writes end what this request read ahead: after a write, lookups go to the database. Inside
   * a unit (write-unit.ts) the write is queued and committed with the unit's others; an
   * insert-only write is not, since its refusal (a replay) must be known at once.
   */
  async #write(write: Write, { deferrable = true } = {}): Promise<void> {
    existingRequestScope()?.clear();
    const unit = deferrable ? openUnit() : undefined;
    if (unit) unit.push(write);
    else await this.#writer.write(write);
  }

  /** A row read ahead by this request (payload-reader.ts), taken once; undefined if none. */
  #takePrefetched(column: 'id' | 'uid', key: string): { value: PrefetchedRow | undefined } | undefined {
    return takeParked<PrefetchedRow>(prefetchKey(this.#model, column, key));
  }

  #associatedData(key: string): string {
    return `${this.#model}:${key}`;
  }

  #open(key: string, row: PayloadRow | undefined): AdapterPayload | undefined {
    if (!row) return undefined;
    const payload = openPayload(this.#sealer, this.#model, key, row.payload);
    if (!payload) return undefined;
    if (row.consumed_at !== null && row.consumed_at !== undefined) {
      payload.consumed = Math.floor(Number(row.consumed_at) / 1000);
    }
    return payload;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.#sealer.digest(id);
    const sealed = this.#sealer.seal(JSON.stringify(payload), this.#associatedData(key));
    const expiresAt = typeof expiresIn === 'number' ? this.#now() + expiresIn * 1000 : null;
    const c = lookupColumns(this.#model, id, payload, this.#sealer);
    const row: UpsertRow = [this.#model, key, sealed, c.grantId, c.uid, c.userCode, c.accountId, c.clientId, c.sessionUid, expiresAt];

    if (INSERT_ONLY.has(this.#model)) {
      const sql = `INSERT INTO ${TABLE} (model, id, payload, grant_id, uid, user_code, account_id, client_id, session_uid, expires_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, id) DO NOTHING RETURNING id`;
      await this.#write({ sql, bindings: row, refusal: () => this.#errors.replayed(this.#model) }, { deferrable: false });
      return;
    }
    // Written only while its grant has no tombstone (payload-upsert.ts).
    await this.#write({ upsert: row, refusal: () => this.#errors.grantRevoked(this.#model) });
  }

  /** Writes the grant's tombstone (idempotent). */
  async #tombstone(grantKey: string): Promise<void> {
    await this.#write({
      sql: `INSERT INTO ${TABLE} (model, id, payload, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (model, id) DO NOTHING`,
      bindings: [REVOKED, grantKey, '', this.#now() + this.#revokedGrantTtl * 1000],
    });
  }

  async #findBy(column: 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    const rows = rowsOf<PayloadRow & { id: string }>(
      await this.#db.raw(
        `SELECT p.id, p.payload, p.consumed_at FROM ${TABLE} p
         WHERE p.model = ? AND p.${column} = ? AND (p.expires_at IS NULL OR p.expires_at > ?) AND ${NOT_REVOKED} LIMIT 1`,
        [this.#model, this.#sealer.digest(value), this.#now()],
      ),
    );
    const row = rows[0];
    return row ? this.#open(row.id, row) : undefined;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (typeof id !== 'string' || id.length === 0) return undefined;
    const key = this.#sealer.digest(id);
    const prefetched = this.#takePrefetched('id', key);
    const row = prefetched ? prefetched.value : await this.#reader.findById(this.#model, key);
    return row ? this.#open(row.id, row) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (typeof uid !== 'string' || uid.length === 0) return undefined;
    const prefetched = this.#takePrefetched('uid', this.#sealer.digest(uid));
    if (prefetched) return prefetched.value ? this.#open(prefetched.value.id, prefetched.value) : undefined;
    return this.#findBy('uid', uid);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    if (typeof userCode !== 'string' || userCode.length === 0) return undefined;
    return this.#findBy('user_code', userCode);
  }

  /**
   * Conditional: only the first caller marks the row consumed. oidc-provider checks `consumed`
   * and then consumes, which two concurrent requests can both pass; the loser learns here.
   */
  async consume(id: string): Promise<void> {
    await this.#write({
      consume: [this.#model, this.#sealer.digest(id), this.#now()],
      refusal: () => this.#errors.alreadyConsumed(this.#model),
    });
  }

  async destroy(id: string): Promise<void> {
    const key = this.#sealer.digest(id);
    // Destroying a grant is revoking it (oidc-provider's revoke(), the user's "revoke access").
    if (this.#model === 'Grant') await this.#tombstone(key);
    await this.#write({ sql: `DELETE FROM ${TABLE} WHERE model = ? AND id = ?`, bindings: [this.#model, key] });
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = this.#sealer.digest(grantId);
    await this.#tombstone(grantKey);
    await this.#write({ sql: `DELETE FROM ${TABLE} WHERE model = ? AND grant_id = ?`, bindings: [this.#model, grantKey] });
  }
}

/** The Adapter factory handed to oidc-provider: one adapter per model name. */
export function createAdapterFactory(
  db: Knex,
  sealer: Sealer,
  clients: Pick<ClientStore, 'adapter'>,
  options: AdapterOptions,
): (model: string) => Adapter {
  // One reader for every model: the provider's parallel lookups of one value share a statement.
  const shared = { ...options, reader: options.reader ?? new PayloadReader(db, options.now) };
  return (model) => (model === 'Client' ? clients.adapter() : new PayloadAdapter(db, model, sealer, shared));
}
