/**
 * Runs `op` until it succeeds, fails with an error `again` does not accept, or `withinMs` has
 * passed since the first try (the last error is thrown then). Waits 50 ms between tries, doubling
 * up to `maxDelayMs`.
 */
export async function retrying<R>(op: () => Promise<R>, again: (err: unknown) => boolean, opts: { withinMs: number; maxDelayMs?: number }): Promise<R> {
  const deadline = Date.now() + opts.withinMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!again(err) || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, opts.maxDelayMs ?? 500)));
    }
  }
}
