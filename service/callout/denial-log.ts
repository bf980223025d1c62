import type { Logger } from "../runtime/log.ts";

/** One line per source per window at most; the rest are counted into the next line. */
const WINDOW_MS = 10_000;
/** Sources remembered at most (the oldest are forgotten first). */
const MAX_SOURCES = 10_000;

interface Window {
  start: number;
  suppressed: number;
}

/**
 * Logs the callout's denials without letting a flood write a line per connect: the first denial
 * of a source (a client address) in a window is logged with its reason and how many of that
 * source's denials the previous window left unlogged; the others only count.
 */
export class DenialLog {
  readonly #windows = new Map<string, Window>();

  constructor(private readonly log: Logger) {}

  denied(source: string, fields: Record<string, unknown>, now = Date.now()): void {
    const w = this.#windows.get(source);
    if (w && now - w.start < WINDOW_MS) {
      w.suppressed++;
      return;
    }
    const unlogged = w?.suppressed ?? 0;
    this.#windows.delete(source);
    if (this.#windows.size >= MAX_SOURCES) {
      const oldest = this.#windows.keys().next();
      if (!oldest.done) this.#windows.delete(oldest.value);
    }
    this.#windows.set(source, { start: now, suppressed: 0 });
    this.log.info({ ...fields, client: source, ...(unlogged ? { unlogged_denials: unlogged } : {}) }, "auth callout: denied");
  }
}
