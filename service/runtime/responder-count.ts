import type { NatsConnection } from "@nats-io/nats-core";

export interface ResponderCountOptions {
  /** How long a count is trusted before it is taken again (in the background). */
  ttlMs: number;
  /** How long to wait after the last reply for more. */
  stallMs: number;
  /** How long a count may take at most. */
  maxWaitMs: number;
}

/**
 * How many responders answer a ping subject (`$SYS.REQ.SERVER.PING`: the servers;
 * `$SRV.PING.mnq`: the instances). A count older than `ttlMs` is still returned while a new one
 * is taken in the background, so callers wait for a ping only the first time (or when `fresh`);
 * concurrent callers share one ping.
 */
export class ResponderCount {
  #last = { count: 0, at: 0 };
  #counting: Promise<number> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly opts: ResponderCountOptions,
  ) {}

  async get(fresh = false): Promise<number> {
    if (fresh || this.#last.count === 0) return this.refresh();
    if (Date.now() - this.#last.at >= this.opts.ttlMs) void this.refresh();
    return this.#last.count;
  }

  /** The last count taken, without pinging (0 before the first). */
  get known(): number {
    return this.#last.count;
  }

  /** Pings now (or joins the ping under way); nobody answering counts as 0. */
  refresh(): Promise<number> {
    this.#counting ??= (async () => {
      let count = 0;
      try {
        const replies = await this.nc.requestMany(this.subject, "", { strategy: "stall", stall: this.opts.stallMs, maxWait: this.opts.maxWaitMs });
        for await (const _ of replies) count++;
      } catch {
        // nobody answered in time: 0
      }
      this.#last = { count, at: Date.now() };
      return count;
    })().finally(() => {
      this.#counting = undefined;
    });
    return this.#counting;
  }
}
