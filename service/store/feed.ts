import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";

/** One change of a bucket, in stream order: its revision is the stream sequence. */
export interface FeedEntry {
  key: string;
  /** The stored bytes (empty for a delete or purge). */
  value: Uint8Array;
  operation: "PUT" | "DEL" | "PURGE";
  revision: number;
}

/** Why a feed's consumer was made anew (the `reason` label of `mnq_view_resets_total`). */
export const ResetReason = {
  /** Two idle heartbeats did not arrive: the consumer's server died or the route to it is down. */
  heartbeatsMissed: "heartbeats_missed",
  /** The server says the consumer is gone (deleted, its node lost, an inactive threshold passed). */
  consumerGone: "consumer_gone",
  /** The message iterator ended or failed. */
  ended: "ended",
  /** The stream holds writes the feed has not delivered, and it made no progress (see RecordView). */
  stalled: "stalled",
  /** Making the consumer failed (no stream leader yet, a timeout): tried again after a pause. */
  createFailed: "create_failed",
  /** A delivery came out of order (one was lost between server and client). */
  gap: "gap",
} as const;
export type ResetReason = (typeof ResetReason)[keyof typeof ResetReason];

export interface FeedOptions {
  /** The idle heartbeat asked of the server; two missed ones restart the feed. */
  heartbeatMs?: number;
  /** Messages per pull. */
  batch?: number;
  /** Longest pause between attempts to make the consumer. */
  maxBackoffMs?: number;
}

const DEFAULTS: Required<FeedOptions> = { heartbeatMs: 1000, batch: 512, maxBackoffMs: 1000 };
/** A consumer the feed let go of and could not delete is removed by the server after this. */
const INACTIVE_THRESHOLD_MS = 30_000;
const KV_OPERATION = "KV-Operation";

/**
 * Every write of one KV bucket, in order, from a given revision on, through any fault. The feed
 * owns its consumer, as an ordered consumer would but with nothing made behind its back: an
 * ephemeral pull consumer (no acks, in memory, one replica, so on one server) from the next
 * revision, made anew (and the old one deleted) whenever it stops: its server died or it was
 * deleted (abort on missing resource), two heartbeats did not come, a delivery came out of order,
 * the iterator ended, or its owner finds it stalled. So the entries handed to `apply` have no gap
 * and no repeat, whatever happened between.
 */
export class BucketFeed {
  readonly #opts: Required<FeedOptions>;
  readonly #prefix: string;
  #messages: ConsumerMessages | undefined;
  #restartReason: ResetReason | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;

  /**
   * @param next the revision to start from when (re)starting: one past the last applied
   * @param apply called for each entry, in stream order
   * @param reset told each time the consumer is made anew, and why
   */
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly bucket: string,
    private readonly next: () => number,
    private readonly apply: (e: FeedEntry) => void,
    private readonly reset: (reason: ResetReason) => void,
    opts: FeedOptions = {},
  ) {
    this.#opts = { ...DEFAULTS, ...opts };
    this.#prefix = `$KV.${bucket}.`;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** Lets go of the consumer and makes a new one from the next revision (no-op while one is being made). */
  restart(reason: ResetReason): void {
    if (this.#stopped || !this.#messages || this.#restartReason) return;
    this.#restartReason = reason;
    this.#messages.stop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#messages?.stop();
    await this.#running;
  }

  async #run(): Promise<void> {
    let failures = 0;
    let reason: ResetReason | undefined;
    while (!this.#stopped) {
      if (reason) {
        this.reset(reason);
        // the first attempt again at once, then longer pauses while the consumer cannot be made
        if (failures > 0) await delay(Math.min(this.#opts.maxBackoffMs, 100 * 2 ** (failures - 1)));
        if (this.#stopped) return;
      }
      const stream = `KV_${this.bucket}`;
      let messages: ConsumerMessages;
      let name: string;
      try {
        const info = await this.jsm.consumers.add(stream, {
          filter_subject: `${this.#prefix}>`,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: this.next(),
          ack_policy: AckPolicy.None,
          mem_storage: true,
          num_replicas: 1,
          inactive_threshold: nanos(INACTIVE_THRESHOLD_MS),
        });
        name = info.name;
        messages = await this.js.consumers.getConsumerFromInfo(info).consume({
          max_messages: this.#opts.batch,
          expires: Math.max(1000, 2 * this.#opts.heartbeatMs),
          idle_heartbeat: this.#opts.heartbeatMs,
          abort_on_missing_resource: true,
        });
      } catch {
        failures++;
        reason = ResetReason.createFailed;
        continue;
      }
      if (this.#stopped) {
        messages.stop();
        void this.jsm.consumers.delete(stream, name).catch(() => undefined);
        return;
      }
      this.#messages = messages;
      this.#restartReason = undefined;
      void this.#watchStatus(messages);
      let ended: ResetReason = ResetReason.ended;
      let delivered = 0;
      try {
        for await (const m of messages) {
          if (m.info.deliverySequence !== ++delivered) {
            ended = ResetReason.gap;
            break;
          }
          failures = 0;
          this.apply(this.#entry(m));
        }
      } catch {
        // a terminal error of the iterator (the consumer is gone): made anew below
      }
      messages.stop();
      ended = this.#takeRestartReason() ?? ended;
      this.#messages = undefined;
      void this.jsm.consumers.delete(stream, name).catch(() => undefined);
      reason = ended;
      if (ended !== ResetReason.heartbeatsMissed && ended !== ResetReason.consumerGone) failures++;
    }
  }

  #takeRestartReason(): ResetReason | undefined {
    return this.#restartReason;
  }

  /** Restarts on what the library reports but does not repair by itself. */
  async #watchStatus(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const s of messages.status()) {
        if (s.type === "heartbeats_missed" && s.count >= 2) this.restart(ResetReason.heartbeatsMissed);
        else if (s.type === "consumer_deleted" || s.type === "consumer_not_found" || s.type === "stream_not_found") {
          this.restart(ResetReason.consumerGone);
        }
      }
    } catch {
      // the status iterator ends with the messages
    }
  }

  #entry(m: JsMsg): FeedEntry {
    return feedEntry(this.bucket, m.subject, m.seq, m.headers?.get(KV_OPERATION), m.data);
  }
}

/** A bucket's stored message as an entry (from a consumer's delivery or a direct get). */
export function feedEntry(bucket: string, subject: string, seq: number, operation: string | undefined, data: Uint8Array): FeedEntry {
  const prefix = `$KV.${bucket}.`;
  return {
    key: subject.startsWith(prefix) ? subject.slice(prefix.length) : subject,
    value: data,
    operation: operation === "DEL" || operation === "PURGE" ? operation : "PUT",
    revision: seq,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
