import type { NatsConnection } from "@nats-io/nats-core";
import { UnavailableError } from "../errors.ts";
import { InboxRequests, NoRespondersError } from "./inbox-requests.ts";
import type { SessionRecord } from "./records.ts";
import { BucketName, Store } from "./store.ts";

/** How long a write is repeated while its stream has no leader (an election after a node loss). */
const NO_LEADER_RETRY_MS = 1500;

export interface SessionLedgerOptions {
  inboxPrefix: string;
  /** Per-request timeout, ms: below the server's auth_timeout, so a lost reply still gets an answer. */
  timeoutMs: number;
}

interface PubAck {
  seq?: number;
  error?: { code: number; err_code?: number; description?: string };
}

/**
 * The auth callout's records of admitted connections, written to `mnq-sessions` so that deleting
 * their owner (a credential's user key or an API key) revokes them. One write per connect, on
 * the hot path, so it skips the KV client (see InboxRequests).
 */
export class SessionLedger {
  readonly #requests: InboxRequests;

  constructor(nc: NatsConnection, opts: SessionLedgerOptions) {
    this.#requests = new InboxRequests(nc, opts);
  }

  /** Writes the session record of `userNkey` under `owner`. */
  async record(owner: string, userNkey: string, record: SessionRecord): Promise<void> {
    const reply = await this.#call(`$KV.${BucketName.sessions}.${Store.sessionKey(owner, userNkey)}`, JSON.stringify(record));
    const ack = reply as PubAck;
    if (ack.error || typeof ack.seq !== "number") throw new UnavailableError(`session not recorded: ${ack.error?.description ?? "no ack"}`);
  }

  close(): void {
    this.#requests.close();
  }

  /** One JSON request; "no responders" is repeated until a leader answers or time runs out. */
  async #call(subject: string, body: string): Promise<unknown> {
    const deadline = Date.now() + NO_LEADER_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return JSON.parse((await this.#requests.request(subject, body)).string()) as unknown;
      } catch (err) {
        if (err instanceof NoRespondersError && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 250)));
          continue;
        }
        if (err instanceof SyntaxError) throw new UnavailableError("the key-value store answered garbage", { cause: err });
        throw new UnavailableError("the key-value store did not answer; retry", { cause: err });
      }
    }
  }
}
