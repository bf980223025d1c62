/**
 * Runs `round` every `intervalMs` (the interval counted from the end of the last one, so rounds
 * never overlap) until `stop()`, which waits for the round under way, at most `maxWaitMs`: every
 * step of a round is safe to cut short (the next round, on any instance, takes it up). A round that
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
  ) {}

  start(): void {
    const tick = () => {
      this.#running = this.round()
        .catch(this.failed)
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) this.#schedule(tick);
        });
    };
    this.#schedule(tick);
  }

  async stop(maxWaitMs = 10_000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#running, new Promise((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
    clearTimeout(timer);
  }

  #schedule(tick: () => void): void {
    this.#timer = setTimeout(tick, this.intervalMs);
    this.#timer.unref();
  }
}
