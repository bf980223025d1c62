import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";

/** The request reached nobody (no stream leader yet, or no such stream): safe to repeat. */
export class NoRespondersError extends Error {
  constructor(subject: string) {
    super(`no responders: ${subject}`);
    this.name = "NoRespondersError";
  }
}

/** No reply came in time; the request may or may not have been carried out. */
export class RequestTimeoutError extends Error {
  constructor(subject: string) {
    super(`timeout: ${subject}`);
    this.name = "RequestTimeoutError";
  }
}

export interface InboxRequestsOptions {
  /** The connection's inbox prefix (its permissions allow replies there). */
  inboxPrefix: string;
  /** How long a request waits for its reply, ms. */
  timeoutMs: number;
}

interface Pending {
  resolve: (m: Msg) => void;
  reject: (err: Error) => void;
  subject: string;
  deadline: number;
}

const SWEEP_MS = 100;

/**
 * Requests whose replies come back on one wildcard inbox subscription, matched by a counter
 * token, with deadlines checked by one sweeping timer. For the auth callout's KV write on every
 * connect: nats.js's `request` (and the KV client over it) spend about three times the CPU per
 * call, mostly on per-request objects.
 */
export class InboxRequests {
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, Pending>();
  readonly #sub: Subscription;
  readonly #sweep: ReturnType<typeof setInterval>;
  #next = 0;

  constructor(
    private readonly nc: NatsConnection,
    opts: InboxRequestsOptions,
  ) {
    this.#prefix = `${createInbox(opts.inboxPrefix)}.`;
    this.#timeoutMs = opts.timeoutMs;
    this.#sub = nc.subscribe(`${this.#prefix}*`, { callback: (_err, m) => this.#reply(m) });
    this.#sweep = setInterval(() => this.#expire(), SWEEP_MS);
    this.#sweep.unref();
  }

  /** Publishes `payload` to `subject` and resolves with the reply. */
  request(subject: string, payload: string | Uint8Array): Promise<Msg> {
    const token = (this.#next++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      this.#pending.set(token, { resolve, reject, subject, deadline: Date.now() + this.#timeoutMs });
      try {
        this.nc.publish(subject, payload, { reply: this.#prefix + token });
      } catch (err) {
        this.#pending.delete(token);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Stops listening; requests still waiting fail. */
  close(): void {
    clearInterval(this.#sweep);
    this.#sub.unsubscribe();
    for (const [token, p] of this.#pending) {
      this.#pending.delete(token);
      p.reject(new RequestTimeoutError(p.subject));
    }
  }

  #reply(m: Msg): void {
    const token = m.subject.slice(this.#prefix.length);
    const p = this.#pending.get(token);
    if (!p) return;
    this.#pending.delete(token);
    if (m.headers?.code === 503) p.reject(new NoRespondersError(p.subject));
    else p.resolve(m);
  }

  #expire(): void {
    const now = Date.now();
    for (const [token, p] of this.#pending) {
      if (p.deadline > now) break; // one timeout for all: the rest were sent later
      this.#pending.delete(token);
      p.reject(new RequestTimeoutError(p.subject));
    }
  }
}
