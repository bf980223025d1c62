/** Limits for repeated failures of one source (a client address). */
export interface ThrottleOptions {
  /** Failures allowed within `windowMs` before the source is blocked. */
  maxFailures: number;
  windowMs: number;
  /** How long a blocked source gets no more expensive checks. */
  blockMs: number;
  /** Sources tracked at most (the oldest are forgotten first). */
  maxTracked: number;
}

export const DEFAULT_THROTTLE: Readonly<ThrottleOptions> = { maxFailures: 10, windowMs: 60_000, blockMs: 60_000, maxTracked: 100_000 };

interface Entry {
  windowStart: number;
  failures: number;
  blockedUntil: number;
}

/**
 * Counts failures per key in one instance (the auth callout: per client address, of checks that
 * cost a scrypt): after `maxFailures` in a window the key is blocked for `blockMs`. A success does
 * not clear the count, so a source cannot mix in its own valid key to keep guessing.
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
}
