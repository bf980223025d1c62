import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";

/** A stream's last message on a subject, as a direct get answers it. */
export interface DirectRead {
  /** The message's subject (the key, for a read by pattern). */
  subject: string;
  seq: number;
  /** The `KV-Operation` header (`DEL`, `PURGE`), if any. */
  operation: string | undefined;
  data: Uint8Array;
}

/** A direct get nobody answered in time, or that no server took (`no responders`). */
export class DirectReadUnanswered extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DirectReadUnanswered";
  }
}

/**
 * A new inbox under the connection's own inbox prefix (its user may subscribe to no other): nats.js
 * keeps the prefix in the options it was connected with, which its NatsConnection type does not show.
 */
export function ownInbox(nc: NatsConnection): string {
  return createInbox((nc as NatsConnection & { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
}

interface Pending {
  resolve: (read: DirectRead | null) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Direct gets of a subject's last message (`$JS.API.DIRECT.GET.<stream>.<subject>`: any replica
 * answers) through one subscription of the connection's own inbox, each reply told by its last
 * token: what the callout's read of an identity not held goes through. The JetStream client's
 * `direct.getMessage` makes a request object, a timer promise and a message wrapper per read;
 * measured on one connection, 121–201 µs of CPU per read and 0.17 ms a round trip, against
 * 53–62 µs and 0.12 ms here.
 */
export class DirectReads {
  readonly #pending = new Map<string, Pending>();
  #sub: Subscription | undefined;
  #inbox = "";
  #next = 0;

  constructor(
    private readonly nc: NatsConnection,
    /** `$JS.API` or the JetStream domain's prefix. */
    private readonly apiPrefix = "$JS.API",
  ) {}

  /** The last message of `subject` (which may hold wildcards) in `stream`; null when it has none. */
  last(stream: string, subject: string, timeoutMs: number): Promise<DirectRead | null> {
    const inbox = this.#subscribed();
    const reply = `${inbox}.${(this.#next++).toString(36)}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(reply);
        reject(new DirectReadUnanswered(`direct get: timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(reply, { resolve, reject, timer });
      try {
        this.nc.publish(`${this.apiPrefix}.DIRECT.GET.${stream}.${subject}`, undefined, { reply });
      } catch (err) {
        this.#settle(reply)?.reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Reads in flight (tests). */
  get pending(): number {
    return this.#pending.size;
  }

  #subscribed(): string {
    if (this.#sub && !this.#sub.isClosed()) return this.#inbox;
    this.#inbox = ownInbox(this.nc);
    const sub = this.nc.subscribe(`${this.#inbox}.*`, { callback: (err, m) => (err ? undefined : this.#answered(m)) });
    this.#sub = sub;
    // a closed connection answers nothing more: its reads fail now, not at their timeouts
    void sub.closed.then(() => {
      for (const reply of [...this.#pending.keys()]) this.#settle(reply)?.reject(new DirectReadUnanswered("direct get: the connection closed"));
    });
    return this.#inbox;
  }

  #settle(reply: string): Pending | undefined {
    const p = this.#pending.get(reply);
    if (!p) return undefined;
    this.#pending.delete(reply);
    clearTimeout(p.timer);
    return p;
  }

  #answered(m: Msg): void {
    const p = this.#settle(m.subject);
    if (!p) return; // late: its read timed out
    const h = m.headers;
    const code = h?.code ?? 0;
    if (code === 404) return p.resolve(null);
    if (code === 503) return p.reject(new DirectReadUnanswered("direct get: no responders"));
    if (code !== 0 || !h) return p.reject(new Error(`direct get: ${code} ${h?.description ?? "no headers"}`));
    p.resolve({ subject: h.get("Nats-Subject"), seq: Number(h.get("Nats-Sequence")), operation: h.get("KV-Operation") || undefined, data: m.data });
  }
}
