/** What an entry of the budget belongs to: told when its entry is evicted. */
export interface CacheOwner {
  evict(id: string): void;
}

/**
 * One memory bound shared by every view of an instance (`MNQ_CACHE_MIB`): entries are charged an
 * estimate of what V8 holds for them, and the least recently used go first, whichever view holds
 * them. A record's size varies a thousandfold (an account with 5,000 revocations against a key
 * index entry), so the bound is on bytes, not on entries.
 */
export class CacheBudget {
  readonly #entries = new Map<string, { owner: CacheOwner; id: string; bytes: number }>();
  #bytes = 0;
  #evictions = 0;

  constructor(readonly maxBytes: number) {}

  /** Charges (or recharges) `id` of `owner` with `bytes` and marks it used now; evicts what no longer fits. */
  charge(owner: CacheOwner, scope: string, id: string, bytes: number): void {
    const slot = `${scope}\u0000${id}`;
    const held = this.#entries.get(slot);
    if (held) {
      this.#bytes -= held.bytes;
      this.#entries.delete(slot);
    }
    this.#entries.set(slot, { owner, id, bytes });
    this.#bytes += bytes;
    for (const [oldest, e] of this.#entries) {
      if (this.#bytes <= this.maxBytes || oldest === slot) break;
      this.#entries.delete(oldest);
      this.#bytes -= e.bytes;
      this.#evictions++;
      e.owner.evict(e.id);
    }
  }

  /** Marks `id` used now (a hit), if it is held. */
  touch(scope: string, id: string): void {
    const slot = `${scope}\u0000${id}`;
    const held = this.#entries.get(slot);
    if (!held) return;
    this.#entries.delete(slot);
    this.#entries.set(slot, held);
  }

  /** Forgets `id` (its owner dropped it). */
  release(scope: string, id: string): void {
    const slot = `${scope}\u0000${id}`;
    const held = this.#entries.get(slot);
    if (!held) return;
    this.#bytes -= held.bytes;
    this.#entries.delete(slot);
  }

  /** Bytes charged now, entries held, and evictions so far (`mnq_cache_*`). */
  stats(): { bytes: number; entries: number; evictions: number } {
    return { bytes: this.#bytes, entries: this.#entries.size, evictions: this.#evictions };
  }
}

/** What V8 is estimated to hold for a record read from `raw` JSON bytes: the parsed object and its key. */
export function recordBytes(raw: number, key: string): number {
  return 2 * raw + 2 * key.length + 160;
}
