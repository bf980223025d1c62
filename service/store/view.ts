import type { KvWatchEntry } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/nats-core";
import type { RecordBucket } from "./bucket.ts";

/**
 * An in-memory copy of a bucket, kept current by a KV watch, for lookups on hot paths (the auth
 * callout) that must not cost a round trip. It may lag KV by a few milliseconds: a miss falls back
 * to KV, and callers that must not act on a deleted record re-check KV itself.
 */
export class RecordView<T> {
  readonly #records = new Map<string, T>();
  #watch: QueuedIterator<KvWatchEntry> | undefined;

  private constructor(private readonly bucket: RecordBucket<T>) {}

  /** Starts watching every key (current values first, then changes). */
  static async open<T>(bucket: RecordBucket<T>): Promise<RecordView<T>> {
    const view = new RecordView(bucket);
    view.#watch = await bucket.kv.watch();
    void (async () => {
      for await (const e of view.#watch!) {
        if (e.operation === "PUT") {
          try {
            view.#records.set(e.key, e.json<T>());
          } catch {
            view.#records.delete(e.key);
          }
        } else {
          view.#records.delete(e.key);
        }
      }
    })().catch(() => undefined);
    return view;
  }

  /** The record as last seen, else as KV holds it now. */
  async get(key: string): Promise<T | null> {
    return this.#records.get(key) ?? (await this.bucket.get(key))?.value ?? null;
  }

  get size(): number {
    return this.#records.size;
  }

  stop(): void {
    this.#watch?.stop();
  }
}
