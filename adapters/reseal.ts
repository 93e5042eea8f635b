// Resealing after a data key rotation: every stored payload and client secret not sealed with
// the active key is opened with the key that sealed it and sealed again with the active one, in
// small batches that rest between them (as purging does), so the retired key stops sealing
// anything and can be dropped from the key file. Each row is rewritten only if nobody wrote it
// meanwhile (compare-and-swap on the sealed value), so a concurrent write is never undone; a
// pass walks the primary key once, and several instances resealing at once only repeat work.
import type { Knex } from 'knex';
import { rowsOf } from './rows.ts';
import { sealedKeyIdSql, type Sealer } from './at-rest.ts';
import { TABLE } from './payload-reader.ts';
import { SHARED_KEYS_AAD } from './key-store.ts';

/** How many stored values each data key seals ('v1': from before key ids), payloads and client secrets together. */
export async function countSealedByKey(db: Knex): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const add = (rows: Array<{ key_id: string; n: number | string }>) => {
    for (const row of rows) counts.set(row.key_id, (counts.get(row.key_id) ?? 0) + Number(row.n));
  };
  add(rowsOf(await db.raw(`SELECT ${sealedKeyIdSql('payload')} AS key_id, COUNT(*) AS n FROM ${TABLE} WHERE payload <> '' GROUP BY 1`)));
  add(rowsOf(await db.raw(`SELECT ${sealedKeyIdSql('secret_sealed')} AS key_id, COUNT(*) AS n FROM clients WHERE secret_sealed IS NOT NULL GROUP BY 1`)));
  add(rowsOf(await db.raw(`SELECT ${sealedKeyIdSql('sealed')} AS key_id, COUNT(*) AS n FROM key_material GROUP BY 1`)));
  return counts;
}

export interface ResealOptions {
  batchSize?: number;
  /** Rest after each batch for this many times its duration (at most 100 ms). */
  restFactor?: number;
  /** Stops the pass between batches (shutdown, a newer key). */
  signal?: AbortSignal;
}

const MAX_REST_MS = 100;

/** One pass over every sealed value; returns how many were resealed under the active key. */
export async function resealAll(db: Knex, sealer: Sealer, { batchSize = 100, restFactor = 4, signal }: ResealOptions = {}): Promise<number> {
  let resealed = 0;
  const rest = async (started: number) => {
    const busy = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_REST_MS, Math.max(1, busy * restFactor))));
  };

  // Payloads, walked by primary key (model, id).
  let after: { model: string; id: string } = { model: '', id: '' };
  while (!signal?.aborted) {
    const started = performance.now();
    const rows = rowsOf<{ model: string; id: string; payload: string }>(
      await db.raw(`SELECT model, id, payload FROM ${TABLE} WHERE model > ? OR (model = ? AND id > ?) ORDER BY model, id LIMIT ?`, [after.model, after.model, after.id, batchSize]),
    );
    for (const row of rows) {
      // Tombstones hold no payload.
      if (row.payload === '' || row.payload.startsWith(sealer.activePrefix)) continue;
      const aad = `${row.model}:${row.id}`;
      let plaintext: string;
      try {
        plaintext = sealer.open(row.payload, aad);
      } catch {
        continue; // unreadable rows are left alone, never trusted
      }
      const written = rowsOf(
        await db.raw(`UPDATE ${TABLE} SET payload = ? WHERE model = ? AND id = ? AND payload = ? RETURNING id`, [sealer.seal(plaintext, aad), row.model, row.id, row.payload]),
      );
      resealed += written.length;
    }
    const last = rows.at(-1);
    if (!last || rows.length < batchSize) break;
    after = { model: last.model, id: last.id };
    await rest(started);
  }

  // Client secrets.
  let afterClient = '';
  while (!signal?.aborted) {
    const started = performance.now();
    const rows = rowsOf<{ client_id: string; secret_sealed: string }>(
      await db.raw(`SELECT client_id, secret_sealed FROM clients WHERE secret_sealed IS NOT NULL AND client_id > ? ORDER BY client_id LIMIT ?`, [afterClient, batchSize]),
    );
    for (const row of rows) {
      if (row.secret_sealed.startsWith(sealer.activePrefix)) continue;
      const aad = `Client:${row.client_id}`;
      let secret: string;
      try {
        secret = sealer.open(row.secret_sealed, aad);
      } catch {
        continue;
      }
      const written = rowsOf(
        await db.raw(`UPDATE clients SET secret_sealed = ? WHERE client_id = ? AND secret_sealed = ? RETURNING client_id`, [sealer.seal(secret, aad), row.client_id, row.secret_sealed]),
      );
      resealed += written.length;
    }
    const last = rows.at(-1);
    if (!last || rows.length < batchSize) break;
    afterClient = last.client_id;
    await rest(started);
  }

  // The shared signing and cookie keys (one row; its version changes, so instances reload them).
  const [shared] = rowsOf<{ sealed: string; version: number | string }>(await db.raw('SELECT sealed, version FROM key_material'));
  if (shared && !signal?.aborted && !shared.sealed.startsWith(sealer.activePrefix)) {
    try {
      const keys = sealer.open(shared.sealed, SHARED_KEYS_AAD);
      const written = rowsOf(
        await db.raw('UPDATE key_material SET sealed = ?, version = version + 1 WHERE sealed = ? RETURNING id', [sealer.seal(keys, SHARED_KEYS_AAD), shared.sealed]),
      );
      resealed += written.length;
    } catch {
      // unreadable: left alone, never trusted
    }
  }
  return resealed;
}
