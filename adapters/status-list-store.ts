// Storage of the status lists (draft-ietf-oauth-status-list) that JWT access tokens point into:
// which indexes are leased to which instance, which token (by its grant) holds each index until
// when, and which have been recalled. The rules (lease lengths, margins, the list's encoding)
// live in server/services/status-lists.ts; this file only says them in SQL.
//
// Per token there is one statement, the entry's insert, queued in the request's unit with the
// token's other writes (write-unit.ts) or group-committed with other requests' writes: no
// allocation statement, since an instance takes indexes from a block it leased beforehand.
import type { Knex } from 'knex';
import { directWriter, type Write, type Writer } from './group-commit.ts';
import { REVOKED, TABLE } from './payload-reader.ts';
import { isUniqueViolation, rowsOf } from './rows.ts';
import { openUnit } from './write-unit.ts';

/**
 * Indexes per block. The same on every instance, always: blocks are ranges of indexes, and two
 * sizes would make two instances' ranges overlap. Changing it needs new list ids.
 */
export const BLOCK_SIZE = 1024;

const BLOCKS = 'status_list_blocks';
const ENTRIES = 'status_list_entries';

/** A status value (draft §7.1): 0 VALID, 1 INVALID. */
export const RECALLED = 1;

export interface StatusEntry {
  listId: string;
  idx: number;
  /** The digest of the grant the token was issued under (as oidc_payloads.grant_id). */
  grantKey: string;
  /** When the token expires (epoch ms). */
  expiresAt: number;
}

export class StatusListStore {
  readonly #db: Knex;
  readonly #writer: Writer;

  constructor(db: Knex, { writer }: { writer?: Writer } = {}) {
    this.#db = db;
    this.#writer = writer ?? directWriter(db);
  }

  /**
   * Leases a block of `listId` until `leasedUntil` (epoch ms) and returns its number: the lowest
   * block whose lease ended before `now` and whose every token expired before `reusableBefore`
   * (as its last holder recorded in `live_until` when it moved on, or else as its entries say:
   * a holder that stopped without moving on), else a new block after the last. Two instances racing for one block: the conditional update
   * lets one have it; the other tries again (PostgreSQL re-checks the condition on the row the
   * winner committed; SQLite runs one writer at a time).
   */
  async leaseBlock(listId: string, { now, leasedUntil, reusableBefore }: { now: number; leasedUntil: number; reusableBefore: number }): Promise<number> {
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const [reused] = rowsOf<{ block: number }>(
        await this.#db.raw(
          `UPDATE ${BLOCKS} SET leased_until = ?, live_until = NULL
           WHERE list_id = ? AND leased_until <= ? AND block = (
             SELECT b.block FROM ${BLOCKS} b
             WHERE b.list_id = ? AND b.leased_until <= ? AND CASE
               WHEN b.live_until IS NOT NULL THEN b.live_until <= ?
               ELSE NOT EXISTS (
                 SELECT 1 FROM ${ENTRIES} e
                 WHERE e.list_id = b.list_id AND e.idx >= b.block * ${BLOCK_SIZE} AND e.idx < (b.block + 1) * ${BLOCK_SIZE} AND e.expires_at > ?
               )
             END
             ORDER BY b.block LIMIT 1
           )
           RETURNING block`,
          [leasedUntil, listId, now, listId, now, reusableBefore, reusableBefore],
        ),
      );
      if (reused) {
        const block = Number(reused.block);
        // Every entry left in it has expired: they go, so the block's indexes start afresh.
        await this.#db.raw(`DELETE FROM ${ENTRIES} WHERE list_id = ? AND idx >= ? AND idx < ?`, [listId, block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE]);
        return block;
      }
      // Untyped parameters in a SELECT list are text to PostgreSQL: hence the casts.
      try {
        const [created] = rowsOf<{ block: number }>(
          await this.#db.raw(
            `INSERT INTO ${BLOCKS} (list_id, block, leased_until)
             SELECT CAST(? AS TEXT), COALESCE(MAX(block) + 1, 0), CAST(? AS BIGINT) FROM ${BLOCKS} WHERE list_id = ?
             RETURNING block`,
            [listId, leasedUntil, listId],
          ),
        );
        if (created) return Number(created.block);
      } catch (error) {
        // Another instance appended the same block number first: look again.
        if (!isUniqueViolation(error)) throw error;
      }
    }
    throw new Error(`no block of status list ${listId} could be leased`);
  }

  /**
   * Records, as this instance moves on from its block (`from` is the lease it holds), until when
   * the tokens it issued from it live (epoch ms): the next lease need not read its entries.
   */
  async releaseBlock(listId: string, block: number, from: number, liveUntil: number): Promise<void> {
    await this.#db.raw(`UPDATE ${BLOCKS} SET live_until = ? WHERE list_id = ? AND block = ? AND leased_until = ?`, [liveUntil, listId, block, from]);
  }

  /** Extends this instance's own lease (`from` is the lease it holds); false if it was not its own any more. */
  async renewLease(listId: string, block: number, from: number, to: number): Promise<boolean> {
    const rows = rowsOf(await this.#db.raw(`UPDATE ${BLOCKS} SET leased_until = ? WHERE list_id = ? AND block = ? AND leased_until = ? RETURNING block`, [to, listId, block, from]));
    return rows.length > 0;
  }

  /**
   * Records the token holding an index, committed with the request's other writes. Recalled at
   * once if its grant was revoked before this commits (a token minted while its family died).
   */
  async record(entry: StatusEntry): Promise<void> {
    await this.#write({
      sql: `INSERT INTO ${ENTRIES} (list_id, idx, grant_id, expires_at, status)
            VALUES (?, ?, ?, ?, CASE WHEN EXISTS (SELECT 1 FROM ${TABLE} t WHERE t.model = '${REVOKED}' AND t.id = ?) THEN ${RECALLED} ELSE 0 END)`,
      bindings: [entry.listId, entry.idx, entry.grantKey, entry.expiresAt, entry.grantKey],
    });
  }

  /**
   * Recalls every token of the grant (in `listIds` only, when given), committed with the
   * request's other writes: with the grant's tombstone, when the grant is being revoked.
   */
  async recallGrant(grantKey: string, listIds?: readonly string[]): Promise<void> {
    if (listIds?.length === 0) return;
    const lists = listIds ? ` AND list_id IN (${listIds.map(() => '?').join(', ')})` : '';
    await this.#write({
      sql: `UPDATE ${ENTRIES} SET status = ${RECALLED} WHERE grant_id = ? AND status = 0${lists}`,
      bindings: [grantKey, ...(listIds ?? [])],
    });
  }

  /** How many indexes the list spans (every block ever leased), a multiple of 8. */
  async length(listId: string): Promise<number> {
    const [row] = rowsOf<{ blocks: number | string | null }>(await this.#db.raw(`SELECT MAX(block) + 1 AS blocks FROM ${BLOCKS} WHERE list_id = ?`, [listId]));
    return Number(row?.blocks ?? 0) * BLOCK_SIZE;
  }

  /** The recalled indexes of tokens that expired after `since` (epoch ms). */
  async recalled(listId: string, since: number): Promise<number[]> {
    const rows = rowsOf<{ idx: number }>(
      await this.#db.raw(`SELECT idx FROM ${ENTRIES} WHERE list_id = ? AND status <> 0 AND expires_at > ?`, [listId, since]),
    );
    return rows.map((row) => Number(row.idx));
  }

  async #write(write: Write): Promise<void> {
    const unit = openUnit();
    if (unit) unit.push(write);
    else await this.#writer.write(write);
  }
}
