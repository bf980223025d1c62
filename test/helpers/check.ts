/** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws the last error). */
export async function check<T>(fn: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`check timed out after ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Cleanups run last-in first-out after the test (node:test runs `t.after` hooks in order). */
export function deferrer(t: { after(fn: () => Promise<void>): void }): (fn: () => unknown) => void {
  const stack: (() => unknown)[] = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => stack.push(fn);
}

/** Resolves with the time it took when the connection closes; rejects if it is still open after `ms`. */
export function closedWithin(nc: { closed(): Promise<void | Error> }, ms: number): Promise<number> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection still open after ${ms} ms`)), ms);
    void nc.closed().then(() => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
  });
}
