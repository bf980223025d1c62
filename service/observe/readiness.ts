import type { NatsConnection } from "@nats-io/nats-core";

/**
 * Whether an instance can answer: started (views loaded, subscriptions held), its connections up
 * (not disconnected, reconnecting or closed), not stopping, and every added condition holding
 * (its copies of KV current). Follows the connections' status events.
 */
export class Readiness {
  #started = false;
  #stopping = false;
  readonly #down = new Set<NatsConnection>();
  /** Conditions: each returns why the instance is not ready, or undefined. */
  readonly #conditions: (() => string | undefined)[] = [];

  constructor(connections: NatsConnection[]) {
    for (const nc of connections) void this.#follow(nc);
  }

  async #follow(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting" || s.type === "close") this.#down.add(nc);
      else if (s.type === "reconnect") this.#down.delete(nc);
    }
    this.#down.add(nc); // the iterator ends when the connection closes
  }

  /** Adds a condition: `check` returns why the instance is not ready, or undefined when it is. */
  require(check: () => string | undefined): void {
    this.#conditions.push(check);
  }

  started(): void {
    this.#started = true;
  }

  stopping(): void {
    this.#stopping = true;
  }

  /** Why the instance is not ready (empty when it is). */
  get reasons(): string[] {
    const out: string[] = [];
    if (!this.#started) out.push("starting");
    if (this.#stopping) out.push("stopping");
    if (this.#down.size > 0) out.push("a NATS connection is down");
    for (const check of this.#conditions) {
      const why = check();
      if (why) out.push(why);
    }
    return out;
  }

  get ready(): boolean {
    return this.reasons.length === 0;
  }
}
