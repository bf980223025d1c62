/** Limits for repeated failures of one identity (an access key or an nkey). */
export interface ThrottleOptions {
  /** Failures allowed within `windowMs` before the identity is blocked. */
  maxFailures: number;
  windowMs: number;
  /** How long a blocked identity is refused without being checked. */
  blockMs: number;
  /** Identities tracked at most (the oldest are forgotten first). */
  maxTracked: number;
}

export const DEFAULT_THROTTLE: Readonly<ThrottleOptions> = { maxFailures: 10, windowMs: 60_000, blockMs: 60_000, maxTracked: 100_000 };

interface Entry {
  windowStart: number;
  failures: number;
  blockedUntil: number;
}

/**
 * Counts authentication failures per identity in one instance: after `maxFailures` in a window
 * the identity is refused for `blockMs` before any lookup or hash is spent on it.
 */
export class Throttle {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly opts: Readonly<ThrottleOptions> = DEFAULT_THROTTLE) {}

  blocked(id: string, now: number): boolean {
    const e = this.#entries.get(id);
    return e !== undefined && e.blockedUntil > now;
  }

  /** Records a failure; true when it blocks the identity. */
  fail(id: string, now: number): boolean {
    let e = this.#entries.get(id);
    if (!e || now - e.windowStart >= this.opts.windowMs) {
      e = { windowStart: now, failures: 0, blockedUntil: e?.blockedUntil ?? 0 };
      this.#entries.delete(id);
      if (this.#entries.size >= this.opts.maxTracked) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
      this.#entries.set(id, e);
    }
    e.failures++;
    if (e.failures >= this.opts.maxFailures && e.blockedUntil <= now) {
      e.blockedUntil = now + this.opts.blockMs;
      return true;
    }
    return false;
  }

  /** A success clears the identity's count. */
  succeed(id: string): void {
    this.#entries.delete(id);
  }
}
