// Hands out status list indexes (draft-ietf-oauth-status-list) to the JWT access tokens this
// instance issues, from blocks it leases in the database (adapters/status-list-store.ts): one
// statement per BLOCK_SIZE tokens instead of one per token, and the next block is leased in the
// background when three quarters of the current one are gone, so a token request rarely waits
// for one. Allocation is shared by every instance through the leases: a block is one instance's
// until its lease ends, and is leased again (by anyone) only once every token that held one of
// its indexes has expired, plus the leeway the APIs give to expiry.
import { BLOCK_SIZE, type StatusListStore } from '../../adapters/status-list-store.ts';

/** How long a block stays this instance's; renewed while it has room. */
export const LEASE_MS = 10 * 60_000;
/**
 * No index is taken from a lease with less than this left: a token's entry is written a moment
 * after its index is taken, and instances' clocks may disagree by a little.
 */
export const LEASE_MARGIN_MS = 60_000;
/**
 * How long past its expiry a token is still treated as live: its bit stays in the list, and its
 * index is not reused. APIs accept tokens up to their clock tolerance (latchkey/resource-server:
 * at most 300 s) past `exp`.
 */
export const EXPIRY_LEEWAY_MS = 5 * 60_000;

const PREFETCH_AT = Math.floor((BLOCK_SIZE * 3) / 4);

interface Lease {
  block: number;
  /** The next free position in the block. */
  next: number;
  /** Epoch ms, as written in the database (renewal compares it). */
  until: number;
  /** When the last token issued from it expires (epoch ms). */
  liveUntil: number;
}

export class IndexAllocator {
  #current: Lease | undefined;
  #spare: Promise<Lease> | undefined;
  #replacing: Promise<void> | undefined;

  constructor(
    private readonly listId: string,
    private readonly store: StatusListStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** An index no live token holds, for a token about to be issued that expires at `expiresAt` (epoch ms). */
  async take(expiresAt: number): Promise<number> {
    for (;;) {
      const lease = this.#current;
      if (lease && this.#usable(lease)) {
        const idx = lease.block * BLOCK_SIZE + lease.next;
        lease.next += 1;
        lease.liveUntil = Math.max(lease.liveUntil, expiresAt);
        if (lease.next === PREFETCH_AT) this.#prefetch();
        return idx;
      }
      // Concurrent requests wait for one replacement, then take from it in turn.
      this.#replacing ??= this.#replace(lease).finally(() => {
        this.#replacing = undefined;
      });
      await this.#replacing;
    }
  }

  #usable(lease: Lease): boolean {
    return lease.next < BLOCK_SIZE && this.now() < lease.until - LEASE_MARGIN_MS;
  }

  async #replace(old: Lease | undefined): Promise<void> {
    // Only the lease is ending: keep the block (a quiet list stays one block per instance).
    // The renewal is conditional on the lease still being ours, so it is safe even after it lapsed.
    if (old && old.next < BLOCK_SIZE) {
      const until = this.now() + LEASE_MS;
      if (await this.store.renewLease(this.listId, old.block, old.until, until)) {
        old.until = until;
        return;
      }
    }
    // Moving on: say until when its tokens live, so the next lease need not read its entries. A
    // hint only; if it is lost (a crash, an error), the entries still tell.
    if (old && old.next > 0) this.store.releaseBlock(this.listId, old.block, old.until, old.liveUntil).catch(() => undefined);
    const spare = this.#spare ? await this.#spare.catch(() => undefined) : undefined;
    this.#spare = undefined;
    this.#current = spare && this.#usable(spare) ? spare : await this.#lease();
  }

  #prefetch(): void {
    if (this.#spare) return;
    this.#spare = this.#lease();
    // A failed prefetch is retried in the foreground when the block runs out.
    this.#spare.catch(() => undefined);
  }

  async #lease(): Promise<Lease> {
    const now = this.now();
    const until = now + LEASE_MS;
    const block = await this.store.leaseBlock(this.listId, { now, leasedUntil: until, reusableBefore: now - EXPIRY_LEEWAY_MS });
    return { block, next: 0, until, liveUntil: 0 };
  }
}
