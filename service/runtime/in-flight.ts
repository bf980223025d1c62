/**
 * Counts the requests being handled, so a stopping instance can answer every request it took
 * before it closes its connection.
 */
export class InFlight {
  #count = 0;
  #idle: Array<() => void> = [];

  get size(): number {
    return this.#count;
  }

  /** Runs `work` counted. Handlers answer their own errors; anything else still surfaces. */
  run(work: () => Promise<void>): void {
    this.#count++;
    void work().finally(() => {
      if (--this.#count === 0) for (const done of this.#idle.splice(0)) done();
    });
  }

  /** Resolves once nothing is in flight, or after `timeoutMs` (true when everything finished). */
  settled(timeoutMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
