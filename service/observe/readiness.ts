import type { NatsConnection } from "@nats-io/nats-core";

/**
 * Whether an instance can answer: started (views loaded, subscriptions held), its connections up
 * (not disconnected, reconnecting or closed), not stopping. Follows the connections' status events.
 */
export class Readiness {
  #started = false;
  #stopping = false;
  readonly #down = new Set<NatsConnection>();

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

  started(): void {
    this.#started = true;
  }

  stopping(): void {
    this.#stopping = true;
  }

  get ready(): boolean {
    return this.#started && !this.#stopping && this.#down.size === 0;
  }
}
