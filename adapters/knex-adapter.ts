// oidc-provider's Adapter contract on Knex (SQLite or PostgreSQL).
//
// Every model except Client lives in one table keyed by (model, digest(id)). Lookup columns
// (grant_id, uid, user_code, account_id, client_id, expires_at, consumed_at) are denormalised
// from the payload so each access is one indexed statement. Payloads are sealed (see at-rest.ts).
// Clients live in their own table (client-store.ts) because operators and the CLI manage them.
import type { Knex } from 'knex';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Sealer } from './at-rest.ts';
import type { ClientStore } from './client-store.ts';
import { rowsOf } from './rows.ts';
import { directWriter, type Write, type Writer } from './group-commit.ts';
import type { UpsertRow } from './payload-upsert.ts';
import { openUnit } from './write-unit.ts';
import { notRevoked, PayloadReader, REVOKED, TABLE } from './payload-reader.ts';
import { existingRequestScope, prefetchKey, type PrefetchedRow } from './request-scope.ts';
import { isStorableText } from './storable-text.ts';

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
  #takePrefetched(column: 'id' | 'uid', key: string): { row: PrefetchedRow | undefined } | undefined {
    const scope = existingRequestScope();
    const name = prefetchKey(this.#model, column, key);
    if (!scope?.has(name)) return undefined;
    const row = scope.get(name) ?? undefined;
    scope.delete(name);
    return { row };
  }

  #associatedData(key: string): string {
    return `${this.#model}:${key}`;
  }

  #open(key: string, row: PayloadRow | undefined): AdapterPayload | undefined {
    if (!row) return undefined;
    let payload: AdapterPayload;
    try {
      payload = JSON.parse(this.#sealer.open(row.payload, this.#associatedData(key))) as AdapterPayload;
    } catch {
      // Sealed for another model or row, or with another key: treat as absent, never trust it.
      return undefined;
    }
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
    const row = prefetched ? prefetched.row : await this.#reader.findById(this.#model, key);
    return row ? this.#open(row.id, row) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (typeof uid !== 'string' || uid.length === 0) return undefined;
    const prefetched = this.#takePrefetched('uid', this.#sealer.digest(uid));
    if (prefetched) return prefetched.row ? this.#open(prefetched.row.id, prefetched.row) : undefined;
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

/**
 * Deletes expired rows in small batches, resting between them: each batch is followed by a
 * pause of `restFactor` times its own duration (at most MAX_REST_MS: under load that duration
 * includes waiting for the connection), so requests queued behind a batch wait for one small
 * batch, not for the whole purge (bench/growth.ts measures W2's p99 while it runs). A purge
 * call handles at most batchSize × maxBatches rows; the next call goes on.
 */
const MAX_REST_MS = 100;
export async function purgeExpired(
  db: Knex,
  { now = Date.now(), batchSize = 25, maxBatches = 100_000, restFactor = 4 } = {},
): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch += 1) {
    const started = performance.now();
    const deleted = rowsOf(
      await db.raw(
        `DELETE FROM ${TABLE} WHERE (model, id) IN (
           SELECT model, id FROM ${TABLE} WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?
         ) RETURNING id`,
        [now, batchSize],
      ),
    );
    total += deleted.length;
    if (deleted.length < batchSize) break;
    const busy = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_REST_MS, Math.max(1, busy * restFactor))));
  }
  return total;
}

/** Unexpired payloads of one model for an account and/or client (account pages, grant reuse). */
export async function findPayloads(
  db: Knex,
  sealer: Sealer,
  model: string,
  where: { accountId?: string; clientId?: string },
  now = Date.now(),
): Promise<AdapterPayload[]> {
  if ([where.accountId, where.clientId].some((value) => value !== undefined && !isStorableText(value))) return [];
  const clauses = ['p.model = ?', '(p.expires_at IS NULL OR p.expires_at > ?)', NOT_REVOKED];
  const bindings: unknown[] = [model, now];
  if (where.accountId !== undefined) {
    clauses.push('p.account_id = ?');
    bindings.push(where.accountId);
  }
  if (where.clientId !== undefined) {
    clauses.push('p.client_id = ?');
    bindings.push(where.clientId);
  }
  const rows = rowsOf<PayloadRow & { id: string }>(
    await db.raw(`SELECT p.id, p.payload, p.consumed_at FROM ${TABLE} p WHERE ${clauses.join(' AND ')}`, bindings as Knex.RawBinding[]),
  );
  const payloads: AdapterPayload[] = [];
  for (const row of rows) {
    try {
      payloads.push(JSON.parse(sealer.open(row.payload, `${model}:${row.id}`)) as AdapterPayload);
    } catch {
      // unreadable rows are skipped, never trusted
    }
  }
  return payloads;
}

/**
 * Rewrites one stored payload with `change`, only if nobody wrote the row meanwhile: a
 * compare-and-swap on the sealed value (unique per write, its nonce is random), retried on a
 * conflict, so an edit never overwrites a concurrent write it did not see. Lookup columns,
 * expiry and `consumed_at` are left as they are. Returns the new payload, or undefined when the
 * row is gone or `change` wants nothing changed.
 */
export async function updatePayload(
  db: Knex,
  sealer: Sealer,
  model: string,
  id: string,
  change: (payload: AdapterPayload) => AdapterPayload | undefined | Promise<AdapterPayload | undefined>,
  { attempts = 8 } = {},
): Promise<AdapterPayload | undefined> {
  const key = sealer.digest(id);
  const aad = `${model}:${key}`;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const [row] = rowsOf<{ payload: string }>(await db.raw(`SELECT payload FROM ${TABLE} WHERE model = ? AND id = ?`, [model, key]));
    if (!row) return undefined;
    let payload: AdapterPayload;
    try {
      payload = JSON.parse(sealer.open(row.payload, aad)) as AdapterPayload;
    } catch {
      return undefined;
    }
    const next = await change(payload);
    if (!next) return undefined;
    const written = rowsOf(
      await db.raw(`UPDATE ${TABLE} SET payload = ? WHERE model = ? AND id = ? AND payload = ? RETURNING id`, [sealer.seal(JSON.stringify(next), aad), model, key, row.payload]),
    );
    if (written.length > 0) return next;
  }
  throw new Error(`${model} kept changing while it was being updated`);
}

/** Unexpired payloads of one model issued under a grant (e.g. the access tokens to recall). */
export async function findPayloadsByGrant(db: Knex, sealer: Sealer, model: string, grantId: string, now = Date.now()): Promise<AdapterPayload[]> {
  const rows = rowsOf<PayloadRow & { id: string }>(
    await db.raw(`SELECT p.id, p.payload, p.consumed_at FROM ${TABLE} p WHERE p.model = ? AND p.grant_id = ? AND (p.expires_at IS NULL OR p.expires_at > ?)`, [
      model,
      sealer.digest(grantId),
      now,
    ]),
  );
  const payloads: AdapterPayload[] = [];
  for (const row of rows) {
    try {
      payloads.push(JSON.parse(sealer.open(row.payload, `${model}:${row.id}`)) as AdapterPayload);
    } catch {
      // unreadable rows are skipped, never trusted
    }
  }
  return payloads;
}
