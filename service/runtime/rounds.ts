/**
 * Runs `round` every `intervalMs` (counted from the end of the last one, so rounds never overlap;
 * and at least `restFactor` times as long as the last round took, so that a round that grows with
 * the fleet runs at most 1 / (1 + restFactor) of the time) until `stop()`, which waits for the
 * round under way, at most `maxWaitMs`: every step of a round is safe to cut short (the next round, on any instance, takes it up). A round that
 * fails is told to `failed` and the next one runs as planned. The timer does not hold the process open.
 */
export class Rounds {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly round: () => Promise<unknown>,
    private readonly failed: (err: unknown) => void,
    private readonly restFactor = 0,
  ) {}

  start(): void {
    const tick = () => {
      const started = performance.now();
      this.#running = this.round()
        .catch(this.failed)
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) this.#schedule(tick, (performance.now() - started) * this.restFactor);
        });
    };
    this.#schedule(tick, 0);
  }

  async stop(maxWaitMs = 10_000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#running, new Promise((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
    clearTimeout(timer);
  }

  #schedule(tick: () => void, restMs: number): void {
    this.#timer = setTimeout(tick, Math.max(this.intervalMs, restMs));
    this.#timer.unref();
  }
}
