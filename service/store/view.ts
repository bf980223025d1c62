import { UnavailableError } from "../errors.ts";
import type { RecordBucket } from "./bucket.ts";
import { BucketFeed, type FeedEntry, feedEntry, ResetReason } from "./feed.ts";
import type { AccountRecord, ApiKeyRecord, CredentialKeyRecord, CredentialsRecord, ProjectRecord } from "./records.ts";
import { BucketName, type Store } from "./store.ts";

/** How often a view asks the stream for its last sequence, to know how far behind it is. */
const PROBE_MS = 500;
/** Behind for this long with no progress: the copy reads what it misses by direct gets (any replica answers, no consumer or leader needed). */
const CATCH_UP_MS = 500;
/** Behind for this long with no progress: the feed is made anew (its consumer may be dead without a sign). */
const STALL_MS = 1000;
/** Messages per direct batch get of a catch-up, and batches per catch-up. */
const CATCH_UP_BATCH = 256;
const CATCH_UP_ROUNDS = 64;
/** Behind for this long: the callout reads through to KV instead of trusting the copy. */
const READ_THROUGH_MS = 250;
/** How long a read-through may take before the copy's answer is used. */
const READ_THROUGH_TIMEOUT_MS = 750;
/** How long a callout lookup waits for a copy that is behind to apply what it misses before reading KV (a healthy copy applies in milliseconds). */
const CATCH_UP_WAIT_MS = 100;
/** How long `sync` waits for the stream leader's answer before taking the stream for leaderless. */
const ASK_MS = 750;
/** Unmet targets remembered (one per probe or sync round trip at most). */
const MAX_TARGETS = 64;

export interface ViewOptions<T> {
  /** Names the groups a record belongs to (its project, its account…), indexed as records change. */
  groupsOf?: (record: T) => readonly string[];
  /** Told each time the view's feed is made anew, and why. */
  onReset?: (reason: ResetReason) => void;
  /** Test fault switch: entries are received and not applied, as if the feed had silently stopped. */
  frozen?: boolean;
  /** How long `open` waits for the first full copy. */
  loadTimeoutMs?: number;
}

/**
 * An in-memory copy of a bucket, for reads on hot paths (the auth callout, list pages) that must
 * not cost a round trip per record. A BucketFeed brings every write in order and is made anew from
 * the last applied revision whenever it stops, so the copy has no gap. The view also knows how far
 * behind it is: twice a second it asks the stream for its last sequence; a write the stream had
 * that the copy has not applied makes it *behind* since that moment (`lagSeconds`), a copy behind
 * with no progress restarts its feed, and while behind `lookup` reads through to KV.
 */
export class RecordView<T> {
  readonly #records = new Map<string, T>();
  #feed: BucketFeed | undefined;
  /** The highest stream sequence applied. */
  #seen = 0;
  readonly #waiters = new Set<{ seq: number; resolve: () => void }>();
  /** The last-sequence request on its way, and the one queued behind it (see `sync`). */
  #inFlight: Promise<number> | undefined;
  #queued: Promise<number> | undefined;
  /** Sequences the stream had (and when it was asked) that the copy has not applied yet, oldest first. */
  readonly #unmet: { seq: number; at: number }[] = [];
  /** `#seen` at the last probe: no change while behind means a stalled feed. */
  #seenAtProbe = 0;
  #probe: ReturnType<typeof setInterval> | undefined;
  readonly #frozen: boolean;

  /** The records of each group (see `open`), kept as records come and go. */
  readonly #groups = new Map<string, Group<T>>();
  readonly #groupsOf: ((record: T) => readonly string[]) | undefined;

  private constructor(
    private readonly bucket: RecordBucket<T>,
    opts: ViewOptions<T>,
  ) {
    this.#groupsOf = opts.groupsOf;
    this.#frozen = opts.frozen ?? false;
  }

  /**
   * Starts following every key (current values first, then changes) and resolves once the copy
   * holds everything the bucket held at the call. `groupsOf` records are indexed by group
   * (`count`, `group`, `sorted`), so none of them scans the bucket.
   */
  static async open<T>(bucket: RecordBucket<T>, opts: ViewOptions<T> = {}): Promise<RecordView<T>> {
    const view = new RecordView(bucket, opts);
    view.#feed = new BucketFeed(
      bucket.js,
      bucket.jsm,
      bucket.name,
      () => view.#seen + 1,
      (e) => view.#apply(e),
      (reason) => opts.onReset?.(reason),
    );
    // this instance's own writes: the copy is behind them until it has applied them (read-your-writes)
    bucket.onWrite = (revision) => view.#learnt(revision, Date.now());
    view.#feed.start();
    // a closed connection ends the feed and the probe (a start that failed, a stop)
    void bucket.nc.closed().then(() => view.stop());
    try {
      await view.sync(opts.loadTimeoutMs ?? 60_000);
    } catch (err) {
      await view.stop();
      throw err;
    }
    view.#probe = setInterval(() => void view.#check(), PROBE_MS);
    view.#probe.unref();
    return view;
  }

  /** The bucket's name (`mnq-credentials`…). */
  get name(): string {
    return this.bucket.name;
  }

  /** The last revision (stream sequence) the copy has applied. */
  get applied(): number {
    return this.#seen;
  }

  #apply(e: FeedEntry): void {
    // two sources (the feed, a catch-up) may bring one entry twice: each brings its entries in order
    if (this.#frozen || e.revision <= this.#seen) return;
    this.#ungroup(e.key, this.#records.get(e.key));
    let record: T | undefined;
    if (e.operation === "PUT") {
      try {
        record = JSON.parse(new TextDecoder().decode(e.value)) as T;
      } catch {
        // an unreadable record is no record
      }
    }
    if (record === undefined) this.#records.delete(e.key);
    else {
      this.#records.set(e.key, record);
      for (const g of this.#groupsOf?.(record) ?? []) {
        let group = this.#groups.get(g);
        if (!group) this.#groups.set(g, (group = { members: new Map(), version: 0, sorted: new Map() }));
        group.members.set(e.key, record);
        group.version++;
      }
    }
    if (e.revision > this.#seen) this.#seen = e.revision;
    while (this.#unmet.length > 0 && this.#unmet[0]!.seq <= this.#seen) this.#unmet.shift();
    for (const w of this.#waiters) {
      if (w.seq <= this.#seen) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }

  #ungroup(key: string, record: T | undefined): void {
    if (record === undefined) return;
    for (const g of this.#groupsOf?.(record) ?? []) {
      const group = this.#groups.get(g);
      if (!group) continue;
      group.members.delete(key);
      group.version++;
      if (group.members.size === 0) this.#groups.delete(g);
    }
  }

  /** The stream had `seq` when asked at `at`: remembered until applied. */
  #learnt(seq: number, at: number): void {
    if (seq <= this.#seen) return;
    const newest = this.#unmet[this.#unmet.length - 1];
    if (newest && newest.seq >= seq) return;
    // full: the oldest entry already says how far behind the copy is
    if (this.#unmet.length < MAX_TARGETS) this.#unmet.push({ seq, at });
  }

  /** The probe: how far behind, and a feed that makes no progress while behind is made anew. */
  async #check(): Promise<void> {
    if (this.#inFlight) return; // a sync is asking already
    try {
      await this.#lastSequenceAfterNow();
    } catch {
      return; // no stream leader: no write can be missed meanwhile
    }
    const oldest = this.#unmet[0];
    const stuck = oldest !== undefined && this.#seen === this.#seenAtProbe;
    this.#seenAtProbe = this.#seen;
    if (!stuck) return;
    const age = Date.now() - oldest.at;
    if (age >= CATCH_UP_MS) void this.#catchUp();
    if (age >= STALL_MS) this.#feed?.restart(ResetReason.stalled);
  }

  #catchingUp = false;

  /**
   * Reads what the copy misses with batched direct gets from the next revision on, while it is
   * behind: any replica answers them, with no consumer and no meta or stream leader, so a copy
   * whose consumer died with its node does not wait for a new one (which needs the meta leader,
   * itself perhaps being elected). Entries come in order; the feed's own later ones are skipped.
   */
  async #catchUp(): Promise<void> {
    if (this.#catchingUp) return;
    this.#catchingUp = true;
    try {
      for (let round = 0; round < CATCH_UP_ROUNDS && this.#unmet.length > 0; round++) {
        const from = this.#seen;
        const batch = await this.bucket.jsm.direct.getBatch(`KV_${this.bucket.name}`, { seq: from + 1, batch: CATCH_UP_BATCH });
        for await (const m of batch) this.#apply(feedEntry(this.bucket.name, m.subject, m.seq, m.header.get("KV-Operation") || undefined, m.data));
        if (this.#seen === from) return; // the replica that answered has nothing newer
      }
    } catch {
      // no replica answered in time: the next probe tries again
    } finally {
      this.#catchingUp = false;
    }
  }

  /** Seconds since the stream held a write the copy has not applied (0: current as of the last probe). */
  lagSeconds(now = Date.now()): number {
    const oldest = this.#unmet[0];
    return oldest ? Math.max(0, now - oldest.at) / 1000 : 0;
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
   * `timeoutMs`. A copy known to be behind is not trusted: the record is read from KV (a direct
   * get, which any replica answers), and only when KV does not answer in time from the copy. A
   * stream that cannot tell in time (no leader) leaves the copy's answer: no write lands meanwhile.
   */
  async lookup(key: string, timeoutMs = 500): Promise<T | null> {
    if (this.lagSeconds() * 1000 >= READ_THROUGH_MS) return this.#readThrough(key);
    // Behind for a moment (a write of this instance's, or one the probe saw): a record held now may
    // be a step short (an account still `creating`), so the copy gets CATCH_UP_WAIT_MS to apply it.
    const newest = this.#unmet[this.#unmet.length - 1];
    if (newest && !(await this.#reach(newest.seq, CATCH_UP_WAIT_MS))) return this.#readThrough(key);
    const held = this.#records.get(key);
    if (held !== undefined) return held;
    // A miss costs the shared round trip, and a KV read only when the copy proves behind: a flood of
    // unknown identities while the stream is slow (or leaderless) costs nothing per request. The
    // copy is not waited for past CATCH_UP_WAIT_MS: one login may look up three records, and the
    // answer is due within the server's auth timeout.
    if ((await this.#confirm(timeoutMs, CATCH_UP_WAIT_MS)) !== "behind") return this.#records.get(key) ?? null;
    return this.#readThrough(key);
  }

  async #readThrough(key: string): Promise<T | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), READ_THROUGH_TIMEOUT_MS)));
    try {
      const got = await Promise.race([this.bucket.get(key), late]);
      if (got !== "late") return got?.value ?? null;
    } catch {
      // KV did not answer: the copy is all there is
    } finally {
      clearTimeout(timer);
    }
    return this.#records.get(key) ?? null;
  }

  /** True once the copy has applied `seq`, within `ms`. */
  #reach(seq: number, ms: number): Promise<boolean> {
    if (seq <= this.#seen) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        seq,
        resolve: () => {
          clearTimeout(wait);
          resolve(true);
        },
      };
      const wait = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(false);
      }, ms);
      this.#waiters.add(waiter);
    });
  }

  /**
   * The record once the view holds every write the stream leader has, waiting at most
   * `timeoutMs` (then as the view holds it). A KV direct get may be answered by a follower that
   * missed a write already answered: read-your-writes goes through here.
   */
  async fresh(key: string, timeoutMs = 1000): Promise<T | null> {
    await this.#confirm(timeoutMs);
    return this.#records.get(key) ?? null;
  }

  /** The record as the view holds it (after `sync`: as KV held it then), without asking KV. */
  peek(key: string): T | undefined {
    return this.#records.get(key);
  }

  /**
   * Waits until the view holds every write the bucket had when called: one stream-info round trip
   * to the stream leader, shared by every caller that arrived before it was sent (a burst of
   * callers costs one or two), then no wait when the view is already there. While the stream has
   * no leader to ask (an election after a node loss), no write can land either: a copy that holds
   * everything the stream had when it last answered is as current as any, and is used.
   * UnavailableError when the copy is behind and does not catch up within `timeoutMs`.
   */
  async sync(timeoutMs = 2000): Promise<void> {
    const state = await this.#confirm(timeoutMs);
    if (state === "behind") throw new UnavailableError("the service's copy of the records is behind; try again");
  }

  /**
   * `current`: the copy holds every write the stream had when asked; `unconfirmed`: the stream did
   * not answer in time and the copy is not known to be behind; `behind`: it is, after `timeoutMs`.
   */
  async #confirm(timeoutMs: number, catchUpMs = timeoutMs): Promise<"current" | "unconfirmed" | "behind"> {
    const deadline = Date.now() + timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // a leader answers in milliseconds; one that does not within ASK_MS is being elected
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), Math.min(ASK_MS, timeoutMs))));
    let last: number | "late";
    try {
      last = await Promise.race([this.#lastSequenceAfterNow(), late]);
    } catch {
      last = "late";
    } finally {
      clearTimeout(timer);
    }
    if (last === "late") return this.#unmet.length === 0 ? "unconfirmed" : "behind";
    if (last <= this.#seen) return "current";
    return (await this.#reach(last, Math.max(0, Math.min(deadline - Date.now(), catchUpMs)))) ? "current" : "behind";
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
    const at = Date.now();
    const asked: Promise<number> = this.bucket.lastSequence().then((seq) => {
      this.#learnt(seq, at);
      return seq;
    });
    asked
      .finally(() => {
        if (this.#inFlight === asked) this.#inFlight = undefined;
      })
      .catch(() => undefined); // the caller sees the failure
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

  async stop(): Promise<void> {
    clearInterval(this.#probe);
    await this.#feed?.stop();
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

export interface OpenViewsOptions {
  /** Told each time a view's feed is made anew (`mnq_view_resets_total`). */
  onReset?: (bucket: string, reason: ResetReason) => void;
  /** Test fault switch: the bucket whose view stops applying what it receives. */
  frozen?: string;
}

/** The views, and what an instance needs to know of them all. */
export interface OpenedViews extends StoreViews {
  /** Each view: its bucket, and how many seconds it is behind its stream. */
  lag(): { bucket: string; seconds: number }[];
  /** The last revision the view of `bucket` applied (-1: no such view). */
  applied(bucket: string): number;
  stop(): Promise<void>;
}

/** The buckets an instance keeps a copy of (`openViews`). */
export const VIEWED_BUCKETS = [BucketName.accounts, BucketName.credentials, BucketName.projects, BucketName.apiKeys, BucketName.credentialKeys] as const;

/** Opens every view (each resolves once it holds its whole bucket). */
export async function openViews(store: Store, opts: OpenViewsOptions = {}): Promise<OpenedViews> {
  const options = <T>(bucket: RecordBucket<T>, groupsOf?: (r: T) => readonly string[]): ViewOptions<T> => ({
    groupsOf,
    onReset: (reason) => opts.onReset?.(bucket.name, reason),
    frozen: opts.frozen === bucket.name,
  });
  const [accounts, credentials, projects, apiKeys, credentialKeys] = await Promise.all([
    // by account id (one id is never managed twice) and by project (list pages)
    RecordView.open(store.accounts, options(store.accounts, (r) => [r.id, projectGroup(r.project_id)])),
    // by account (the bound on credentials and revocations), by project and by project and account (pages)
    RecordView.open(
      store.credentials,
      options(store.credentials, (r) => [r.nats_account_id, projectGroup(r.project_id), accountGroup(r.project_id, r.nats_account_id)]),
    ),
    RecordView.open(store.projects, options(store.projects)),
    // by project, and all together (pages)
    RecordView.open(store.apiKeys, options(store.apiKeys, (r) => [projectGroup(r.project_id), ALL])),
    RecordView.open(store.credentialKeys, options(store.credentialKeys)),
  ]);
  const views = { accounts, credentials, projects, apiKeys, credentialKeys };
  const all: Pick<RecordView<unknown>, "name" | "applied" | "lagSeconds" | "stop">[] = Object.values(views);
  return {
    ...views,
    lag: () => all.map((v) => ({ bucket: v.name, seconds: v.lagSeconds() })),
    applied: (bucket) => all.find((v) => v.name === bucket)?.applied ?? -1,
    stop: async () => {
      await Promise.all(all.map((v) => v.stop()));
    },
  };
}
