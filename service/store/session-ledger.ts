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

interface MsgGetReply {
  message?: { seq: number; hdrs?: string };
  error?: { code: number; err_code?: number; description?: string };
}

/** JetStream "no message found". */
const NO_MESSAGE = 10037;

/**
 * The auth callout's records of admitted connections: a session is written to `mnq-sessions`, then
 * its owner (credential user key or API access key) is read back from its stream *leader*. The read
 * comes after the write, so a delete that removed the owner before it is seen (deny), and one that
 * removes it after lists this session and revokes it. The leader's answer is the point of it: a
 * follower replica's direct get could still show an owner its leader has already deleted.
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

  /** True when `owner`'s record exists at its stream leader (a credential's `U…` key or an access key). */
  async ownerLives(owner: string): Promise<boolean> {
    const bucket = owner.startsWith("U") ? BucketName.credentialKeys : BucketName.apiKeys;
    const reply = (await this.#call(`$JS.API.STREAM.MSG.GET.KV_${bucket}`, JSON.stringify({ last_by_subj: `$KV.${bucket}.${owner}` }))) as MsgGetReply;
    if (reply.error?.err_code === NO_MESSAGE) return false;
    if (reply.error || !reply.message) throw new UnavailableError(`owner not read: ${reply.error?.description ?? "no message"}`);
    // a delete or purge leaves a marker whose headers say so
    const hdrs = reply.message.hdrs ? Buffer.from(reply.message.hdrs, "base64").toString("latin1") : "";
    return !/^KV-Operation:\s*(DEL|PURGE)\s*$/im.test(hdrs);
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
