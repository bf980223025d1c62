/** Entries are swept when a map has grown by this many since its last sweep. */
const SWEEP_EVERY = 1024;

/** A fence's end: the write (in `bucket`, at `revision`) after which the instance's copy refuses the owner by itself. */
export interface FenceRelease {
  bucket: string;
  revision: number;
}

/**
 * One instance's memory of whom it let in lately and whom it must no longer let in, so that a
 * delete can close every connection of an owner (a credential's user key, an API key's access key,
 * an account id) without a record per connection:
 * - `block` comes from a delete's fence, before this instance's copy of KV has seen the delete:
 *   from then on it admits none of those owners, until its copy has applied the delete's revision
 *   (and so refuses them by itself). No timer ends a fence: a copy that stays behind keeps it.
 * - `granted` remembers, per owner, until when a response already sent may still be acted on by
 *   its server (the request's expiry: after it the server has dropped the client). The fence
 *   answers with that, so the delete knows how long to keep looking for late connections.
 * Fences are dropped once their revision is applied, grants once their time has passed; both are
 * swept as the maps grow.
 */
export class AdmissionGate {
  readonly #blocked = new Map<string, FenceRelease>();
  readonly #granted = new Map<string, number>();
  #sweptAt = { blocked: 0, granted: 0 };

  /** @param applied the last revision this instance's copy of a bucket has applied */
  constructor(private readonly applied: (bucket: string) => number) {}

  /** Refuses `owners` until the copy of `release.bucket` holds `release.revision`; returns how long grants already sent to them may still land, ms. */
  block(owners: readonly string[], release: FenceRelease, now = Date.now()): number {
    let pending = 0;
    for (const owner of owners) {
      const held = this.#blocked.get(owner);
      // one owner fenced twice (a retried delete): the later write ends it
      if (!held || held.bucket !== release.bucket || held.revision < release.revision) this.#blocked.set(owner, release);
      const until = this.#granted.get(owner);
      if (until !== undefined && until > now) pending = Math.max(pending, until - now);
    }
    if (this.#blocked.size >= this.#sweptAt.blocked + SWEEP_EVERY) {
      for (const [owner, r] of this.#blocked) if (this.#released(r)) this.#blocked.delete(owner);
      this.#sweptAt.blocked = this.#blocked.size;
    }
    return pending;
  }

  /** True while a delete's fence holds `owner`: its copy has not yet applied the delete. */
  blocked(owner: string): boolean {
    const release = this.#blocked.get(owner);
    if (release === undefined) return false;
    if (!this.#released(release)) return true;
    this.#blocked.delete(owner);
    return false;
  }

  #released(r: FenceRelease): boolean {
    return this.applied(r.bucket) >= r.revision;
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

/** Drops the grants whose time has passed; returns the size left. */
function sweep(map: Map<string, number>, now: number): number {
  for (const [k, until] of map) if (until <= now) map.delete(k);
  return map.size;
}
