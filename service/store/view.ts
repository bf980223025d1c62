import type { KvWatchEntry } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/nats-core";
import { UnavailableError } from "../errors.ts";
import type { RecordBucket } from "./bucket.ts";
import type { AccountRecord, ApiKeyRecord, CredentialKeyRecord, CredentialsRecord, ProjectRecord } from "./records.ts";
import type { Store } from "./store.ts";

/**
 * An in-memory copy of a bucket, kept current by a KV watch, for reads on hot paths (the auth
 * callout, list pages) that must not cost a round trip per record. It may lag KV by a few
 * milliseconds: `get` falls back to KV on a miss, `lookup` (the auth callout's) to one shared `sync`,
 * and `sync` waits until every write made before the call is in.
 */
export class RecordView<T> {
  readonly #records = new Map<string, T>();
  #watch: QueuedIterator<KvWatchEntry> | undefined;
  /** The highest stream sequence the watch has delivered. */
  #seen = 0;
  readonly #waiters = new Set<{ seq: number; resolve: () => void }>();
  /** The last-sequence request on its way, and the one queued behind it (see `sync`). */
  #inFlight: Promise<number> | undefined;
  #queued: Promise<number> | undefined;

  /** The records of each group (see `open`), kept as records come and go. */
  readonly #groups = new Map<string, Group<T>>();

  private constructor(
    private readonly bucket: RecordBucket<T>,
    private readonly groupsOf?: (record: T) => readonly string[],
  ) {}

  /**
   * Starts watching every key (current values first, then changes). `groupsOf` names the groups
   * a record belongs to (its project, its account…), indexed as the records change (`count`,
   * `group`, `sorted`), so none of them scans the bucket.
   */
  static async open<T>(bucket: RecordBucket<T>, groupsOf?: (record: T) => readonly string[]): Promise<RecordView<T>> {
    const view = new RecordView(bucket, groupsOf);
    view.#watch = await bucket.kv.watch();
    void (async () => {
      for await (const e of view.#watch!) view.#apply(e);
    })().catch(() => undefined);
    return view;
  }

  #apply(e: KvWatchEntry): void {
    this.#ungroup(e.key, this.#records.get(e.key));
    let record: T | undefined;
    if (e.operation === "PUT") {
      try {
        record = e.json<T>();
      } catch {
        // an unreadable record is no record
      }
    }
    if (record === undefined) this.#records.delete(e.key);
    else {
      this.#records.set(e.key, record);
      for (const g of this.groupsOf?.(record) ?? []) {
        let group = this.#groups.get(g);
        if (!group) this.#groups.set(g, (group = { members: new Map(), version: 0, sorted: new Map() }));
        group.members.set(e.key, record);
        group.version++;
      }
    }
    if (e.revision > this.#seen) this.#seen = e.revision;
    for (const w of this.#waiters) {
      if (w.seq <= this.#seen) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }

  #ungroup(key: string, record: T | undefined): void {
    if (record === undefined) return;
    for (const g of this.groupsOf?.(record) ?? []) {
      const group = this.#groups.get(g);
      if (!group) continue;
      group.members.delete(key);
      group.version++;
      if (group.members.size === 0) this.#groups.delete(g);
    }
  }

  /** How many records the view holds in `group` (see `open`). */
  count(group: string): number {
    return this.#groups.get(group)?.members.size ?? 0;
  }

  /** The records of `group` (see `open`), unordered. */
  group(group: string): T[] {
    return [...(this.#groups.get(group)?.members.values() ?? [])];
  }

  /**
   * The records of `group` in the order `compare` gives, named `order`: sorted once per change of
   * the group, so repeated pages of an unchanged group cost no sort. Do not modify the array.
   */
  sorted(group: string, order: string, compare: (a: T, b: T) => number): readonly T[] {
    const g = this.#groups.get(group);
    if (!g) return [];
    const cached = g.sorted.get(order);
    if (cached && cached.version === g.version) return cached.items;
    const items = [...g.members.values()].sort(compare);
    g.sorted.set(order, { version: g.version, items });
    return items;
  }

  /** The record as last seen, else as KV holds it now. */
  async get(key: string): Promise<T | null> {
    return this.#records.get(key) ?? (await this.bucket.get(key))?.value ?? null;
  }

  /**
   * For the auth callout, which must not wait on JetStream: the record as the view holds it; on a
   * miss (a record written a moment ago, or none), once more after one shared `sync`, given at most
   * `timeoutMs`. Null when it is not there or the stream cannot tell in time (no leader): never a
   * KV read per request, so unknown identities cost no more than a shared round trip.
   */
  async lookup(key: string, timeoutMs = 500): Promise<T | null> {
    return this.#records.get(key) ?? (await this.fresh(key, timeoutMs));
  }

  /**
   * The record once the view holds every write the stream leader has, waiting at most
   * `timeoutMs` (then as the view holds it). A KV direct get may be answered by a follower that
   * missed a write already answered: read-your-writes goes through here.
   */
  async fresh(key: string, timeoutMs = 1000): Promise<T | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.sync(timeoutMs).catch(() => undefined), late]);
    clearTimeout(timer);
    return this.#records.get(key) ?? null;
  }

  /** The record as the view holds it (after `sync`: as KV held it then), without asking KV. */
  peek(key: string): T | undefined {
    return this.#records.get(key);
  }

  /**
   * Waits until the view holds every write the bucket had when called: one stream-info round trip
   * to the stream leader, shared by every caller that arrived before it was sent (a burst of
   * callers costs one or two), then no wait when the view is already there. UnavailableError when
   * it does not catch up in time.
   */
  async sync(timeoutMs = 2000): Promise<void> {
    const last = await this.#lastSequenceAfterNow();
    if (last <= this.#seen) return;
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        seq: last,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new UnavailableError("the service's copy of the records is behind; try again"));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /**
   * The bucket's last sequence, read by a request sent after this call: the one in flight was sent
   * before, so callers arriving meanwhile share the next, sent as soon as it returns.
   */
  #lastSequenceAfterNow(): Promise<number> {
    if (!this.#inFlight) return this.#askLastSequence();
    this.#queued ??= this.#inFlight
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.#askLastSequence();
      });
    return this.#queued;
  }

  #askLastSequence(): Promise<number> {
    const asked: Promise<number> = this.bucket.lastSequence().finally(() => {
      if (this.#inFlight === asked) this.#inFlight = undefined;
    });
    this.#inFlight = asked;
    return asked;
  }

  /** Every record whose key starts with `prefix` (a project's: `"<project>."`), unordered. */
  values(prefix = ""): T[] {
    const out: T[] = [];
    for (const [k, v] of this.#records) if (k.startsWith(prefix)) out.push(v);
    return out;
  }

  get size(): number {
    return this.#records.size;
  }

  stop(): void {
    this.#watch?.stop();
  }
}

/** The group of every record, in views that keep one. */
export const ALL = "*all";

/** The group of a project's records in the views that index them by project. */
export function projectGroup(project: string): string {
  return `project:${project}`;
}

/** The group of one account's credentials within a project. */
export function accountGroup(project: string, accountId: string): string {
  return `${project}/${accountId}`;
}

interface Group<T> {
  members: Map<string, T>;
  /** Bumped on every change of the group's members: sorted copies of an older version are stale. */
  version: number;
  sorted: Map<string, { version: number; items: T[] }>;
}

/** The views an instance keeps: what the callout looks up and what list pages read. */
export interface StoreViews {
  readonly accounts: RecordView<AccountRecord>;
  readonly credentials: RecordView<CredentialsRecord>;
  readonly projects: RecordView<ProjectRecord>;
  readonly apiKeys: RecordView<ApiKeyRecord>;
  readonly credentialKeys: RecordView<CredentialKeyRecord>;
}

export async function openViews(store: Store): Promise<StoreViews & { stop(): void }> {
  const [accounts, credentials, projects, apiKeys, credentialKeys] = await Promise.all([
    // by account id (one id is never managed twice) and by project (list pages)
    RecordView.open(store.accounts, (r) => [r.id, projectGroup(r.project_id)]),
    // by account (the bound on credentials and revocations), by project and by project and account (pages)
    RecordView.open(store.credentials, (r) => [r.nats_account_id, projectGroup(r.project_id), accountGroup(r.project_id, r.nats_account_id)]),
    RecordView.open(store.projects),
    // by project, and all together (pages)
    RecordView.open(store.apiKeys, (r) => [projectGroup(r.project_id), ALL]),
    RecordView.open(store.credentialKeys),
  ]);
  const views = { accounts, credentials, projects, apiKeys, credentialKeys };
  return {
    ...views,
    stop: () => {
      for (const v of Object.values(views)) v.stop();
    },
  };
}
