import { headers, type NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { ConflictError, UnavailableError } from "../contract/errors.ts";
import { errorChain } from "../runtime/error-chain.ts";
import { retrying } from "../runtime/retry.ts";
import { DirectReads, ownInbox } from "./direct-reads.ts";

/** The last write of a key as one replica holds it, and how far that replica is (see `lastFor`). */
export interface ReplicaRead {
  /** The key written (the pattern's match), or null when no key matches. */
  key: string | null;
  /** The record, or null for a delete, a purge or no key. */
  value: Uint8Array | null;
  /** The write's stream sequence (0: no key). */
  revision: number;
}

/** A stored value with the KV revision it was read at. */
export interface Versioned<T> {
  key: string;
  value: T;
  revision: number;
}

const LIST_CONCURRENCY = 64;
/** Keys per `multi_last` direct get: nats-server answers at most 1,024 messages to one. */
const MULTI_LAST = 1000;
/**
 * Messages per batch of a count's walk, and the bytes a batch stops at. Every batched direct get
 * first counts what is pending after its start (nats-server's NumPending): once the stream has a
 * deleted message in its first half, that walks every subject the stream holds, about 100 ms at a
 * million keys. Batches of 1,000 paid it a thousand times per walk of the credentials' index; of
 * 10,000, a hundred. The byte bound keeps a batch's burst on the walk's connection small whatever
 * the records weigh.
 */
export const COUNT_BATCH = 10_000;
export const COUNT_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * Records per batch of a walk that reads them (`scan` of a whole bucket: reconcile rounds, the
 * count's accounts), and the bytes a batch stops at: large batches for the same reason, bounded by
 * what the walk holds in memory at once.
 */
export const WALK_BATCH = 2000;
export const WALK_BATCH_BYTES = 2 * 1024 * 1024;

/**
 * Typed JSON records in one KV bucket. Writes are create-only or revision-checked:
 * a concurrent change surfaces as ConflictError (JetStream 10071, wrong last sequence).
 */
export class RecordBucket<T> {
  constructor(
    readonly kv: KV,
    /** The bucket's name (its stream is `KV_<name>`). */
    readonly name: string,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    /** The connection the bucket is used through (views follow it until it closes). */
    readonly nc: NatsConnection,
    /** What walks (`scan`) read through: a connection of their own, so point reads never wait behind a walk's batches. */
    readonly bulk: JetStreamManager = jsm,
    /** The connection `bulk` uses (a count's batches are read from it without the JetStream client). */
    readonly bulkNc: NatsConnection = nc,
  ) {
    this.#reads = new DirectReads(nc, jsm.getOptions().apiPrefix);
  }

  /** The point reads of `lastFor` (the callout's read of an identity not held). */
  readonly #reads: DirectReads;

  /** The record as a replica holds it (a direct get: any replica answers, without a leader). */
  async get(key: string): Promise<Versioned<T> | null> {
    const e = await guard(() => this.kv.get(key));
    if (!e || e.operation !== "PUT") return null;
    return { key, value: e.json<T>(), revision: e.revision };
  }

  /**
   * The record as the stream leader holds it: after a revision check failed, a direct get may be
   * answered again and again by a replica that has not seen the write it lost to.
   */
  async latest(key: string): Promise<Versioned<T> | null> {
    const m = await guard(() => this.jsm.streams.getMessage(`KV_${this.name}`, { last_by_subj: `$KV.${this.name}.${key}` }));
    if (!m) return null;
    const op = m.header.get("KV-Operation");
    if (op === "DEL" || op === "PURGE") return null;
    return { key, value: m.json<T>(), revision: m.seq };
  }

  /**
   * The last write of the key matching `pattern` (a key, or one with wildcards such as `*.<id>`),
   * by a direct get: any replica answers, without a leader (a replica answers direct gets only
   * once it has caught up with its stream; one a few writes behind is told by its reader, see
   * RecordView). Asked again when the replica it went to does not answer (a dying node).
   */
  async lastFor(pattern: string, timeoutMs = 2000): Promise<ReplicaRead> {
    try {
      return await retrying(
        async () => {
          const m = await this.#reads.last(`KV_${this.name}`, `${this.#subjectPrefix}${pattern}`, timeoutMs);
          if (!m) return { key: null, value: null, revision: 0 };
          const op = m.operation;
          return { key: m.subject.slice(this.#subjectPrefix.length), value: op === "DEL" || op === "PURGE" ? null : m.data, revision: m.seq };
        },
        unanswered,
        { withinMs: timeoutMs - 100, maxDelayMs: 300 },
      );
    } catch (err) {
      if (unanswered(err)) throw new UnavailableError("the key-value store did not answer; retry", { cause: err });
      throw err;
    }
  }

  /**
   * Every write still held under `prefix` (`<project>.`; "" for all) or matching a key pattern
   * (`{ pattern: "*.<project>" }`), oldest first, by batched
   * direct gets filtered by the server: no consumer, any replica answers. One batch at a time.
   * A prefix's batches ask for no more than the server said are left (its `Nats-Num-Pending`), the
   * first for one: a batch asking for more makes the server look for a next match to the end of
   * the stream, which on a large bucket reads every block after the prefix's last key. The whole
   * bucket ("") is walked by sequence with no filter: the server then counts what is left from the
   * stream's state, where a filter matching every key costs it a pass over the bucket per batch
   * (measured at 1,000,000 keys: 340–650 ms a batch, against 8–14 ms). From the stream's state
   * only while no message in its first half was deleted: after that, every batch costs a walk over
   * the stream's subjects (13 ms at 120,000 accounts, 100 ms at 1,000,000 keys), so a walk of the
   * whole bucket should take large batches and bound them by `maxBytes` (what one batch holds).
   */
  async *scan(
    prefix: string | { pattern: string },
    batch = 10_000,
    pace?: () => Promise<void>,
    maxBytes?: number,
  ): AsyncGenerator<{ key: string; value: Uint8Array | null; revision: number }> {
    const pattern = typeof prefix === "string" ? (prefix === "" ? undefined : `${prefix}>`) : prefix.pattern;
    const filter = pattern === undefined ? undefined : { next_by_subj: `${this.#subjectPrefix}${pattern}` };
    const limit = maxBytes === undefined ? undefined : { max_bytes: maxBytes };
    let seq = 0;
    let ask = filter ? 1 : batch;
    for (let first = true; ; first = false) {
      if (!first) await pace?.();
      const it = await guard(() => this.bulk.direct.getBatch(`KV_${this.name}`, { seq: seq + 1, batch: ask, ...filter, ...limit }));
      const read: { key: string; value: Uint8Array | null; revision: number }[] = [];
      let left: number | undefined;
      try {
        for await (const m of it) {
          const op = m.header.get("KV-Operation");
          read.push({ key: m.subject.slice(this.#subjectPrefix.length), value: op === "DEL" || op === "PURGE" ? null : m.data, revision: m.seq });
          left = Number.isFinite(m.pending) ? m.pending : undefined;
        }
      } catch (err) {
        // 404: nothing (more) matches
        if (!(err instanceof Error && "code" in err && err.code === 404)) throw err;
      }
      for (const r of read) {
        seq = r.revision;
        yield r;
      }
      if (read.length === 0 || left === 0 || (left === undefined && read.length < ask)) return;
      ask = Math.min(batch, left ?? batch);
    }
  }

  /**
   * Which of `keys` (exact keys) hold a record, by batched direct gets of their last writes
   * (`multi_last`, up to MULTI_LAST keys per request): any replica answers, one round trip per
   * MULTI_LAST keys instead of one per key.
   */
  async holding(keys: readonly string[]): Promise<Set<string>> {
    const held = new Set<string>();
    for (let i = 0; i < keys.length; i += MULTI_LAST) {
      const subjects = keys.slice(i, i + MULTI_LAST).map((k) => `${this.#subjectPrefix}${k}`);
      const read: string[] = [];
      await guard(async () => {
        read.length = 0;
        try {
          for await (const m of await this.bulk.direct.getLastMessagesFor(`KV_${this.name}`, { multi_last: subjects })) {
            const op = m.header.get("KV-Operation");
            if (op !== "DEL" && op !== "PURGE") read.push(m.subject.slice(this.#subjectPrefix.length));
          }
        } catch (err) {
          // 404: none of them has a write
          if (!(err instanceof Error && "code" in err && err.code === 404)) throw err;
        }
      });
      for (const k of read) held.add(k);
    }
    return held;
  }

  /**
   * How many keys of the bucket hold a record: a walk of the whole stream by sequence, `pace`
   * awaited between batches, that keeps and parses nothing of a record. A record is never empty
   * and a delete's or purge's marker always is, so only the size of each message is looked at;
   * headers are decoded only for empty messages (markers, and the batch's end, whose
   * `Nats-Last-Sequence` and `Nats-Num-Pending` say where the next batch starts and whether one
   * is needed). At a million keys the JetStream client's batches (every message's headers
   * decoded, the batch queued whole) made most of an instance's garbage.
   */
  async countLive(batch = COUNT_BATCH, pace?: () => Promise<void>, maxBytes = COUNT_BATCH_BYTES): Promise<number> {
    let live = 0;
    let next = 1;
    for (let first = true; ; first = false) {
      if (!first) await pace?.();
      const end = await guard(() => this.#countBatch(next, batch, maxBytes));
      live += end.live;
      if (end.pending === 0 || end.last < next) return live;
      next = end.last + 1;
    }
  }

  /** One batch of `countLive` from `seq`: the records in it, the last sequence it covered and how many messages are left. */
  #countBatch(seq: number, batch: number, maxBytes: number): Promise<{ live: number; last: number; pending: number }> {
    return new Promise((resolve, reject) => {
      let live = 0;
      const inbox = ownInbox(this.bulkNc);
      const sub = this.bulkNc.subscribe(inbox, {
        timeout: 5000,
        callback: (err, m) => {
          if (err) {
            sub.unsubscribe();
            reject(err);
            return;
          }
          if (m.data.length > 0) {
            live++;
            return;
          }
          const h = m.headers;
          if (!h?.hasError && h?.code === 0) return; // a marker: KV-Operation DEL or PURGE
          sub.unsubscribe();
          // 204: the batch's end; 404: nothing from `seq` on
          if (h?.code === 404) return resolve({ live, last: seq - 1, pending: 0 });
          if (h?.code !== 204) return reject(new Error(`direct get: ${h?.code} ${h?.description}`));
          resolve({ live, last: Number(h.last("Nats-Last-Sequence")), pending: Number(h.last("Nats-Num-Pending")) });
        },
      });
      this.bulkNc.publish(`${this.bulk.getOptions().apiPrefix ?? "$JS.API"}.DIRECT.GET.KV_${this.name}`, JSON.stringify({ seq, batch, max_bytes: maxBytes }), { reply: inbox });
    });
  }

  get #subjectPrefix(): string {
    return `$KV.${this.name}.`;
  }

  /** Told the revision of every write made through this bucket (a view then knows the stream holds it). */
  onWrite: ((revision: number) => void) | undefined;

  #wrote(revision: number): number {
    this.onWrite?.(revision);
    return revision;
  }

  /** Creates the key; ConflictError when it exists. */
  async create(key: string, value: T): Promise<number> {
    return this.#wrote(await guard(() => this.kv.create(key, JSON.stringify(value))));
  }

  /** Replaces the value read at `revision`; ConflictError when it changed since. */
  async update(key: string, value: T, revision: number): Promise<number> {
    return this.#wrote(await guard(() => this.kv.update(key, JSON.stringify(value), revision)));
  }

  /** Deletes the key (only at `revision` when given); returns the delete's own revision. */
  async delete(key: string, revision?: number): Promise<number> {
    const h = headers();
    h.set("KV-Operation", "DEL");
    const expect = revision === undefined ? undefined : { lastSubjectSequence: revision };
    const ack = await guard(() => this.js.publish(`$KV.${this.name}.${key}`, undefined, { headers: h, expect }), expect === undefined);
    return this.#wrote(ack.seq);
  }

  /** The sequence of the bucket's last write (0 when empty). */
  async lastSequence(): Promise<number> {
    return guard(async () => (await this.kv.status()).streamInfo.state.last_seq);
  }

  /** Every live key matching the subject filter (`proj.*`); filtered by the server. */
  async keys(filter: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const k of await guard(() => this.kv.keys(filter))) keys.push(k);
    return keys;
  }

  /** Every live record whose key matches the subject filter (`proj.*`); filtered by the server. */
  async list(filter: string): Promise<Versioned<T>[]> {
    const keys = await this.keys(filter);
    const out: Versioned<T>[] = [];
    for (let i = 0; i < keys.length; i += LIST_CONCURRENCY) {
      const got = await Promise.all(keys.slice(i, i + LIST_CONCURRENCY).map((k) => this.get(k)));
      for (const r of got) if (r) out.push(r);
    }
    return out;
  }

  /**
   * Read-modify-write with retries on conflict. `change` returns the new value, or null to
   * leave the record as it is. Returns the record as written (or as read when unchanged).
   */
  async modify(key: string, change: (current: Versioned<T> | null) => T | null, attempts = 10): Promise<Versioned<T> | null> {
    for (let i = 0; i < attempts; i++) {
      // the leader's copy once a check has failed: a lagging replica would fail every attempt
      const current = i === 0 ? await this.get(key) : await this.latest(key);
      const next = change(current);
      if (next === null) return current;
      try {
        const revision = current ? await this.update(key, next, current.revision) : await this.create(key, next);
        return { key, value: next, revision };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 5 * (i + 1)));
      }
    }
    throw new ConflictError();
  }
}

/** How long a KV call is retried while its stream has no leader (an election after a node loss). */
const NO_LEADER_RETRY_MS = 4000;

/**
 * Maps JetStream failures to API errors: 10071 → ConflictError, timeouts → UnavailableError;
 * "no responders" (the call reached no stream leader) is first retried for NO_LEADER_RETRY_MS.
 * A `repeatable` call (a delete that expects no revision) is retried after a timeout too:
 * done twice it leaves what once does, and during an election a timeout is what a client would
 * otherwise meet.
 */
async function guard<R>(op: () => Promise<R>, repeatable = false): Promise<R> {
  // "no responders": nobody received the call (no stream leader yet), so it is safe to repeat
  const again = (err: unknown) => (repeatable ? unanswered(err) : /no ?responders|\b503\b/i.test(errorChain(err)));
  try {
    return await retrying(op, again, { withinMs: NO_LEADER_RETRY_MS });
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) {
      throw new ConflictError(undefined, { cause: err });
    }
    if (/wrong last sequence/i.test(errorChain(err))) throw new ConflictError(undefined, { cause: err });
    if (unanswered(err)) throw new UnavailableError("the key-value store did not answer; retry", { cause: err });
    throw err;
  }
}

/** A call nobody answered: a timeout, no responders, or a 503. */
function unanswered(err: unknown): boolean {
  return /timeout|no ?responders|\b503\b/i.test(errorChain(err));
}
