// A size-bounded map whose entries each expire at their own time. Used for the introspection
// answers (introspection.ts) and the DPoP proof ids already seen (dpop-proof.ts); bounded so that
// no stream of distinct tokens or proofs can grow the API's memory without limit.

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class ExpiringCache<V> {
  readonly #entries = new Map<string, Entry<V>>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The live value under `key`, if any (an expired one is dropped on the way). */
  get(key: string, now = Date.now()): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps `value` until `expiresAt` (ms); when full, the oldest entry makes room. */
  set(key: string, value: V, expiresAt: number, now = Date.now()): void {
    if (expiresAt <= now) return;
    this.#entries.delete(key);
    this.#sweep(now);
    while (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt });
  }

  /** Sets `key` unless it is live already; false when it was (the check and the write are one step). */
  addIfAbsent(key: string, value: V, expiresAt: number, now = Date.now()): boolean {
    if (this.get(key, now) !== undefined) return false;
    this.set(key, value, expiresAt, now);
    return true;
  }

  // Insertion order is roughly expiry order, so expired entries gather at the front: dropping a
  // few there on each write keeps the map near its live size at a constant cost per write.
  #sweep(now: number): void {
    let budget = 4;
    for (const [key, entry] of this.#entries) {
      if (budget-- === 0 || entry.expiresAt > now) return;
      this.#entries.delete(key);
    }
  }
}
