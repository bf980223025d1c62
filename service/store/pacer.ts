/**
 * Paces a background walk over KV (a count, a reconcile round): once it has run `unpacedMs`, it
 * rests `restFactor` times as long as its last batch took before the next one, so it takes at most
 * 1 / (1 + restFactor) of the time of this process and of the server it reads from, and the
 * logins and pages served meanwhile barely notice it. A walk over within `unpacedMs` is never slowed.
 */
export class Pacer {
  readonly #started = performance.now();
  #batchStarted = this.#started;

  constructor(
    private readonly restFactor = 4,
    private readonly unpacedMs = 1000,
  ) {}

  /** Awaited between two batches. */
  readonly pace = async (): Promise<void> => {
    const now = performance.now();
    const took = now - this.#batchStarted;
    if (now - this.#started > this.unpacedMs) await new Promise((r) => setTimeout(r, took * this.restFactor));
    this.#batchStarted = performance.now();
  };
}
