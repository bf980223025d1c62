/** How long an owner stays refused after a delete fenced it: far longer than any view lags. */
const BLOCK_MS = 5 * 60_000;
/** Entries are swept when a map has grown by this many since its last sweep. */
const SWEEP_EVERY = 1024;

/**
 * One instance's memory of whom it let in lately and whom it must no longer let in, so that a
 * delete can close every connection of an owner (a credential's user key or an API key's access
 * key) without a record per connection:
 * - `block` comes from a delete's fence, before any view has seen the delete: from then on this
 *   instance admits none of those owners;
 * - `granted` remembers, per owner, until when a response already sent may still be acted on by
 *   its server (the request's expiry: after it the server has dropped the client). The fence
 *   answers with that, so the delete knows how long to keep looking for late connections.
 * Both maps hold only recent entries (bounded by time), swept as they grow.
 */
export class AdmissionGate {
  readonly #blocked = new Map<string, number>();
  readonly #granted = new Map<string, number>();
  #sweptAt = { blocked: 0, granted: 0 };

  /** Refuses `owners` from now on (for BLOCK_MS); returns how long grants already sent to them may still land, ms. */
  block(owners: readonly string[], now = Date.now()): number {
    let pending = 0;
    for (const owner of owners) {
      this.#blocked.set(owner, now + BLOCK_MS);
      const until = this.#granted.get(owner);
      if (until !== undefined && until > now) pending = Math.max(pending, until - now);
    }
    if (this.#blocked.size >= this.#sweptAt.blocked + SWEEP_EVERY) this.#sweptAt.blocked = sweep(this.#blocked, now);
    return pending;
  }

  /** True while a delete's fence holds `owner`. */
  blocked(owner: string, now = Date.now()): boolean {
    const until = this.#blocked.get(owner);
    return until !== undefined && until > now;
  }

  /** Records that a response admitting `owner` is sent; a server may act on it until `deadline` (ms). */
  granted(owner: string, deadline: number, now = Date.now()): void {
    const was = this.#granted.get(owner);
    if (was === undefined || was < deadline) this.#granted.set(owner, deadline);
    if (this.#granted.size >= this.#sweptAt.granted + SWEEP_EVERY) this.#sweptAt.granted = sweep(this.#granted, now);
  }

  /** Entries held (for tests and metrics). */
  get size(): { blocked: number; granted: number } {
    return { blocked: this.#blocked.size, granted: this.#granted.size };
  }
}

/** Drops the entries whose time has passed; returns the size left. */
function sweep(map: Map<string, number>, now: number): number {
  for (const [k, until] of map) if (until <= now) map.delete(k);
  return map.size;
}
