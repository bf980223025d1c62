import { headers, type NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { ConflictError, UnavailableError } from "../errors.ts";

/** A stored value with the KV revision it was read at. */
export interface Versioned<T> {
  key: string;
  value: T;
  revision: number;
}

const LIST_CONCURRENCY = 64;

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
  ) {}

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

  /** Told the revision of every write made through this bucket (a view then knows the stream holds it). */
  onWrite: ((revision: number) => void) | undefined;

  #wrote(revision: number): number {
    this.onWrite?.(revision);
    return revision;
  }

  /** Writes the key whatever it holds. */
  async put(key: string, value: T): Promise<number> {
    return this.#wrote(await guard(() => this.kv.put(key, JSON.stringify(value))));
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
    const ack = await guard(() => this.js.publish(`$KV.${this.name}.${key}`, undefined, { headers: h, expect }));
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
 */
async function guard<R>(op: () => Promise<R>): Promise<R> {
  const deadline = Date.now() + NO_LEADER_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) {
        throw new ConflictError(undefined, { cause: err });
      }
      const text = errorChain(err);
      if (/wrong last sequence/i.test(text)) throw new ConflictError(undefined, { cause: err });
      // "no responders": nobody received the call (no stream leader yet), so it is safe to repeat
      if (/no ?responders|\b503\b/i.test(text) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
        continue;
      }
      if (/timeout|no ?responders|\b503\b/i.test(text)) {
        throw new UnavailableError("the key-value store did not answer; retry", { cause: err });
      }
      throw err;
    }
  }
}

/** An error and its causes as one line ("JetStreamNotEnabled … <- RequestError: no responders …"). */
function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 4; e = e instanceof Error ? e.cause : undefined, depth++) {
    parts.push(e instanceof Error ? `${e.name} ${e.message}` : String(e));
  }
  return parts.join(" <- ");
}
