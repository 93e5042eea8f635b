// Queries on the payload table that are not oidc-provider's Adapter contract: what the server's
// services and maintenance ask of it (an account's grants, the tokens issued under a grant, an
// edit of one stored payload, the purge of expired rows). The adapter is knex-adapter.ts.
import type { Knex } from 'knex';
import type { AdapterPayload } from 'oidc-provider';
import type { Sealer } from './at-rest.ts';
import { rowsOf } from './rows.ts';
import { notRevoked, TABLE } from './payload-reader.ts';
import { isStorableText } from './storable-text.ts';

const NOT_REVOKED = notRevoked('p');

/**
 * One sealed payload opened, bound to its model and row; undefined when it does not open
 * (sealed for another model or row, or with another key): such a row is never trusted.
 */
export function openPayload(sealer: Sealer, model: string, key: string, sealed: string): AdapterPayload | undefined {
  try {
    return JSON.parse(sealer.open(sealed, `${model}:${key}`)) as AdapterPayload;
  } catch {
    return undefined;
  }
}

/** The payloads a query selects (id, payload) that open; unreadable rows are skipped. */
async function selectPayloads(db: Knex, sealer: Sealer, model: string, sql: string, bindings: readonly Knex.RawBinding[]): Promise<AdapterPayload[]> {
  const rows = rowsOf<{ id: string; payload: string }>(await db.raw(sql, bindings as Knex.RawBinding[]));
  return rows.flatMap((row): AdapterPayload[] => {
    const payload = openPayload(sealer, model, row.id, row.payload);
    return payload ? [payload] : [];
  });
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
  const bindings: Knex.RawBinding[] = [model, now];
  if (where.accountId !== undefined) {
    clauses.push('p.account_id = ?');
    bindings.push(where.accountId);
  }
  if (where.clientId !== undefined) {
    clauses.push('p.client_id = ?');
    bindings.push(where.clientId);
  }
  return selectPayloads(db, sealer, model, `SELECT p.id, p.payload FROM ${TABLE} p WHERE ${clauses.join(' AND ')}`, bindings);
}

/**
 * Unexpired payloads of one model issued under a grant (e.g. the access tokens to recall),
 * tombstoned or not: recalling them is what a revoked grant asks for.
 */
export async function findPayloadsByGrant(db: Knex, sealer: Sealer, model: string, grantId: string, now = Date.now()): Promise<AdapterPayload[]> {
  return selectPayloads(
    db,
    sealer,
    model,
    `SELECT p.id, p.payload FROM ${TABLE} p WHERE p.model = ? AND p.grant_id = ? AND (p.expires_at IS NULL OR p.expires_at > ?)`,
    [model, sealer.digest(grantId), now],
  );
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
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const [row] = rowsOf<{ payload: string }>(await db.raw(`SELECT payload FROM ${TABLE} WHERE model = ? AND id = ?`, [model, key]));
    if (!row) return undefined;
    const payload = openPayload(sealer, model, key, row.payload);
    if (!payload) return undefined;
    const next = await change(payload);
    if (!next) return undefined;
    const sealed = sealer.seal(JSON.stringify(next), `${model}:${key}`);
    const written = rowsOf(await db.raw(`UPDATE ${TABLE} SET payload = ? WHERE model = ? AND id = ? AND payload = ? RETURNING id`, [sealed, model, key, row.payload]));
    if (written.length > 0) return next;
  }
  throw new Error(`${model} kept changing while it was being updated`);
}
