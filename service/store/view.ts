import { UnavailableError } from "../contract/errors.ts";
import { type RecordBucket, type Versioned, WALK_BATCH, WALK_BATCH_BYTES } from "./bucket.ts";
import { CacheBudget, type CacheOwner, recordBytes } from "./cache-budget.ts";
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
/** How long `catchUp` waits for the stream leader's answer before taking the stream for leaderless. */
const ASK_MS = 750;
/** Unmet targets remembered (one per probe or sync round trip at most). */
const MAX_TARGETS = 64;

/** A negative answer (no such key) is trusted this long before KV is asked again, though the feed keeps it current. */
const NEGATIVE_TTL_MS = 30_000;
/** Merged orders held per view (each a project's list), apart from the budget: arrays of references to held records. */
const MAX_MERGED = 16;
/** Keys written lately remembered per view (about 100 bytes each), to tell a replica's answer that is behind. */
const MAX_RECENT = 20_000;
/** Negative answers held per view, apart from the shared budget. */
const MAX_NEGATIVE = 10_000;

export interface ViewOptions<S = unknown, T = S> {
  /**
   * What the view keeps of a stored record: only what its readers use (an account's JWT, about
   * 1 KiB, is read by none of them). Records as stored when not given.
   */
  slim?: (stored: S) => T;
  /** The memory bound shared by every view (least recently used entries go first). */
  budget: CacheBudget;
  /**
   * The group a key belongs to, for views that list groups: a key prefix ending in `.`, read from
   * KV by the pattern `<prefix>>`, or a key pattern with a wildcard (`*.<project>`), read by itself.
   */
  groupOf?: (key: string) => string | undefined;
  /** The pattern a key is also looked up by (`<access key>.*`), for views read by a part of the key. */
  aliasOf?: (key: string) => string;
  /** Told each time the view's feed is made anew, and why. */
  onReset?: (reason: ResetReason) => void;
  /** Test fault switch: entries are received and not applied, as if the feed had silently stopped. */
  frozen?: boolean;
  /** How long `open` waits for the stream's last sequence. */
  loadTimeoutMs?: number;
}

interface Held<T> {
  value: T | null;
  revision: number;
  /** When a negative answer was read (positive ones are kept current by the feed until evicted). */
  at: number;
}

interface Member<T> {
  value: T;
  revision: number;
  bytes: number;
}

interface Group<T> {
  /** Writes up to this revision are in `members` (the scan read them); the feed brings later ones. */
  from: number;
  members: Map<string, Member<T>>;
  /** Deletes the scan met past `from`: an older write the feed brings late must not bring the key back. */
  tombs: Map<string, number>;
  /** Bumped on every change of the members: sorted copies of an older version are stale. */
  version: number;
  sorted: Map<string, { version: number; items: T[] }>;
  bytes: number;
  loaded: Promise<void>;
}

/**
 * A bounded copy of a bucket, for reads on hot paths (the auth callout, list pages) that must not
 * cost a round trip per record, and whose memory does not grow with the fleet: records and groups
 * (a key prefix: a project's accounts, an account's credentials) are read from KV when first asked
 * for, by direct gets that any replica answers, and kept until the shared budget evicts them.
 *
 * Kept current by a BucketFeed of the writes made since the view opened (no replay at start),
 * made anew from the last applied revision whenever it stops, so the copy has no gap. The view
 * knows how far behind it is: twice a second it asks the stream for its last sequence; a write
 * the stream had that the copy has not applied makes it *behind* since that moment (`lagSeconds`),
 * a copy behind with no progress restarts its feed, and while behind `readWithin` reads through to KV.
 */
export class RecordView<T, S = T> implements CacheOwner {
  readonly #held = new Map<string, Held<T>>();
  /** Keys written lately → revision (see `#remember`). */
  readonly #recent = new Map<string, number>();
  /** The keys held as absent, oldest first (see `#hold`). */
  readonly #negatives = new Set<string>();
  /** Reads of keys on their way: the writes the feed brought meanwhile (newer than the read may be). */
  readonly #filling = new Map<string, { promise: Promise<T | null>; revision: number; value: T | null | undefined }>();
  readonly #groups = new Map<string, Group<T>>();
  /** Merged orders of several groups (see `sortedAcross`), the last MAX_MERGED asked for. */
  readonly #merged = new Map<string, { versions: string; groups: Group<T>[]; items: T[] }>();
  readonly #budget: CacheBudget;
  readonly #groupOf: ((key: string) => string | undefined) | undefined;
  readonly #aliasOf: ((key: string) => string) | undefined;
  #feed: BucketFeed | undefined;
  /** The highest stream sequence applied. */
  #seen = 0;
  readonly #waiters = new Set<{ seq: number; resolve: () => void }>();
  /** The last-sequence request on its way, and the one queued behind it (see `catchUp`). */
  #inFlight: Promise<number> | undefined;
  #queued: Promise<number> | undefined;
  /** Sequences the stream had (and when it was asked) that the copy has not applied yet, oldest first. */
  readonly #unmet: { seq: number; at: number }[] = [];
  /** `#seen` at the last probe: no change while behind means a stalled feed. */
  #seenAtProbe = 0;
  #probe: ReturnType<typeof setInterval> | undefined;
  readonly #frozen: boolean;
  readonly #slim: (stored: S) => T;
  readonly #slims: boolean;

  private constructor(
    private readonly bucket: RecordBucket<S>,
    opts: ViewOptions<S, T>,
  ) {
    this.#slim = opts.slim ?? ((stored: S) => stored as unknown as T);
    this.#slims = opts.slim !== undefined;
    this.#budget = opts.budget;
    this.#groupOf = opts.groupOf;
    this.#aliasOf = opts.aliasOf;
    this.#frozen = opts.frozen ?? false;
  }

  /**
   * Starts following the writes made from now on: one round trip for the stream's last sequence,
   * whatever the bucket holds (nothing is replayed).
   */
  static async open<T, S = T>(bucket: RecordBucket<S>, opts: ViewOptions<S, T>): Promise<RecordView<T, S>> {
    const view = new RecordView<T, S>(bucket, opts);
    const deadline = Date.now() + (opts.loadTimeoutMs ?? 60_000);
    for (;;) {
      try {
        view.#seen = await bucket.lastSequence();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    view.#seenAtProbe = view.#seen;
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
    const prefix = this.#groupOf?.(e.key);
    const group = prefix === undefined ? undefined : this.#groups.get(prefix);
    let value: T | null | undefined;
    const parsed = () => (value ??= e.operation === "PUT" ? this.#parse(e.value) : null);
    for (const key of this.#aliasOf ? [e.key, this.#aliasOf(e.key)] : [e.key]) {
      this.#remember(key, e.revision);
      const held = this.#held.get(key);
      if (held && e.revision > held.revision) this.#hold(key, parsed(), e.revision, e.value.length);
      const filling = this.#filling.get(key);
      if (filling && e.revision > filling.revision) {
        filling.revision = e.revision;
        filling.value = parsed();
      }
    }
    if (group && e.revision > group.from) this.#member(group, prefix!, e.key, parsed(), e.revision, e.value.length);
    this.#seen = e.revision;
    while (this.#unmet.length > 0 && this.#unmet[0]!.seq <= this.#seen) this.#unmet.shift();
    for (const w of this.#waiters) {
      if (w.seq <= this.#seen) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }

  /**
   * Holds an answer. A positive one is charged to the shared budget; a negative one (no such key)
   * is kept apart, at most MAX_NEGATIVE per view, oldest out first: a flood of unknown identities
   * turns over the negatives only, never what the others' logins are served from.
   */
  /** The keys written lately and their revisions, the last MAX_RECENT: what a lagging replica may not have yet. */
  #remember(key: string, revision: number): void {
    this.#recent.delete(key);
    this.#recent.set(key, revision);
    if (this.#recent.size > MAX_RECENT) this.#recent.delete(this.#recent.keys().next().value as string);
  }

  #hold(key: string, value: T | null, revision: number, raw: number): void {
    this.#held.set(key, { value, revision, at: Date.now() });
    if (value !== null) {
      this.#negatives.delete(key);
      this.#budget.charge(this, this.name, `k:${key}`, recordBytes(this.#heldSize(value, raw), key));
      return;
    }
    this.#budget.release(this.name, `k:${key}`);
    this.#negatives.delete(key);
    this.#negatives.add(key);
    if (this.#negatives.size > MAX_NEGATIVE) {
      const oldest = this.#negatives.values().next().value as string;
      this.#negatives.delete(oldest);
      this.#held.delete(oldest);
    }
  }

  #member(group: Group<T>, prefix: string, read: string, value: T | null, revision: number, raw: number): void {
    const key = ownKey(read);
    const had = group.members.get(key);
    if (had && had.revision >= revision) return;
    if ((group.tombs.get(key) ?? 0) >= revision) return;
    if (had) group.bytes -= had.bytes;
    if (value === null) {
      group.members.delete(key);
      group.tombs.set(key, revision);
    } else {
      const bytes = recordBytes(this.#heldSize(value, raw), key) + 16;
      group.members.set(key, { value, revision, bytes });
      group.bytes += bytes;
    }
    group.version++;
    this.#budget.charge(this, this.name, `g:${prefix}`, group.bytes);
  }

  /** The JSON size of what is held of a record stored in `raw` bytes: a slimmed record is charged for what is kept. */
  #heldSize(value: T, raw: number): number {
    return this.#slims ? JSON.stringify(value).length : raw;
  }

  #parse(raw: Uint8Array): T | null {
    const stored = parseStored<S>(raw);
    return stored === null ? null : this.#slim(stored);
  }

  /** The budget let go of an entry. */
  evict(id: string): void {
    if (id.startsWith("k:")) {
      const key = id.slice(2);
      if (this.#held.get(key)?.value !== null) this.#held.delete(key);
    }
    else this.#groups.delete(id.slice(2));
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

  /** How many records `group` (a key prefix, see `groupOf`) holds. */
  async count(group: string): Promise<number> {
    return (await this.#loaded(group)).members.size;
  }

  /** The records of `group`, unordered. */
  async group(group: string): Promise<T[]> {
    return [...(await this.#loaded(group)).members.values()].map((m) => m.value);
  }

  /**
   * The records of `group` in the order `compare` gives, named `order`: sorted once per change of
   * the group, so repeated pages of an unchanged group cost no sort. Do not modify the array.
   */
  async sorted(group: string, order: string, compare: (a: T, b: T) => number): Promise<readonly T[]> {
    const g = await this.#loaded(group);
    const cached = g.sorted.get(order);
    if (cached && cached.version === g.version) return cached.items;
    const items = [...g.members.values()].map((m) => m.value).sort(compare);
    g.sorted.set(order, { version: g.version, items });
    return items;
  }

  /**
   * The records of several groups (a project's accounts' credentials) in one order: merged once
   * per change of any of them, like `sorted`. Do not modify the array.
   */
  async sortedAcross(groups: readonly string[], order: string, compare: (a: T, b: T) => number): Promise<readonly T[]> {
    if (groups.length === 1) return this.sorted(groups[0]!, order, compare);
    const loaded = await Promise.all(groups.map((g) => this.#loaded(g)));
    const slot = `${order}\u0000${groups.join("\u0000")}`;
    const versions = loaded.map((g) => g.version).join(",");
    const cached = this.#merged.get(slot);
    if (cached && cached.versions === versions && cached.groups.every((g, i) => g === loaded[i])) return cached.items;
    const items: T[] = [];
    for (const g of loaded) for (const m of g.members.values()) items.push(m.value);
    items.sort(compare);
    this.#merged.delete(slot);
    this.#merged.set(slot, { versions, groups: loaded, items });
    if (this.#merged.size > MAX_MERGED) this.#merged.delete(this.#merged.keys().next().value as string);
    return items;
  }

  /**
   * The group held, else read once from KV by a scan of its prefix (batched direct gets filtered
   * by the server; any replica answers) while the feed keeps bringing writes past the point the
   * scan started from: a write is in the group whichever of the two brings it, the newest wins.
   */
  async #loaded(prefix: string): Promise<Group<T>> {
    const held = this.#groups.get(prefix);
    if (held) {
      await held.loaded;
      this.#budget.touch(this.name, `g:${prefix}`);
      if (held.tombs.size > 0 && [...held.tombs.values()].every((r) => r <= this.#seen)) held.tombs.clear();
      return held;
    }
    const group: Group<T> = { from: this.#seen, members: new Map(), tombs: new Map(), version: 0, sorted: new Map(), bytes: 0, loaded: Promise.resolve() };
    this.#groups.set(prefix, group);
    group.loaded = (async () => {
      for await (const e of this.bucket.scan(prefix.endsWith(".") ? prefix : { pattern: prefix })) {
        if (this.#groupOf?.(e.key) !== prefix) continue;
        this.#member(group, prefix, e.key, e.value === null ? null : this.#parse(e.value), e.revision, e.value?.length ?? 0);
      }
      // A replica behind this copy may have left out writes the copy saw go by: those keys of the
      // group written lately that the scan did not show at their revision are read from the leader.
      for (const [k, r] of this.#recent) {
        if (r > group.from || this.#groupOf?.(k) !== prefix) continue;
        if ((group.members.get(k)?.revision ?? group.tombs.get(k) ?? 0) >= r) continue;
        const latest = await this.bucket.latest(k);
        this.#member(group, prefix, k, latest ? this.#slim(latest.value) : null, latest?.revision ?? r, latest ? JSON.stringify(latest.value).length : 0);
      }
      // deletes at or before `from` were never members: only those the feed may still bring late stay
      for (const [k, r] of group.tombs) if (r <= group.from) group.tombs.delete(k);
      this.#budget.charge(this, this.name, `g:${prefix}`, group.bytes);
    })();
    try {
      await group.loaded;
    } catch (err) {
      if (this.#groups.get(prefix) === group) this.#groups.delete(prefix);
      this.#budget.release(this.name, `g:${prefix}`);
      throw err;
    }
    return group;
  }

  /**
   * Every record whose key starts with `prefix` ("" for all), read from KV batch by batch (`pace`
   * awaited between two), as stored: a walk for background work, not held unless `warm` says so of
   * it (see `#warm`).
   */
  async *scan(prefix = "", pace?: () => Promise<void>, warm: (value: S) => boolean = () => false): AsyncGenerator<{ key: string; value: S }> {
    // a walk holds one batch at a time (at most WALK_BATCH_BYTES); it yields records as stored (whole)
    for await (const e of this.bucket.scan(prefix, WALK_BATCH, pace, WALK_BATCH_BYTES)) {
      if (e.value === null) continue;
      const value = parseStored<S>(e.value);
      if (value === null) continue;
      if (warm(value)) this.#warm(e.key, this.#slim(value), e.revision, e.value.length);
      yield { key: e.key, value };
    }
  }

  /**
   * Holds a record a walk read, as a read-through would (`#fill`), while the budget is less than half
   * full and the key is neither held nor being read, nor written lately at a newer revision (then
   * the walk's copy may be older than what the feed applied): the start's walk over the accounts
   * leaves them held, so a first login into an account costs one read, of its identity.
   */
  #warm(key: string, value: T, revision: number, raw: number): void {
    if (this.#budget.stats().bytes > this.#budget.maxBytes / 2) return;
    if (this.#held.has(key) || this.#filling.has(key) || revision < (this.#recent.get(key) ?? 0)) return;
    this.#hold(ownKey(key), value, revision, raw);
  }

  /** The record as held, else as a replica holds it (a direct get), then held. */
  async read(key: string): Promise<T | null> {
    const held = this.#fresh(key);
    if (held !== undefined) return held;
    return this.#fill(key);
  }

  /**
   * The record of the one key matching `pattern` (`*.<id>`: a key whose project or account part is
   * not known), as a replica holds it; null when none.
   */
  async find(pattern: string): Promise<Versioned<T> | null> {
    const read = await this.bucket.lastFor(pattern);
    if (read.key === null || read.value === null) return null;
    const value = this.#parse(read.value);
    return value === null ? null : { key: read.key, value, revision: read.revision };
  }

  /** A held answer still good: any positive one (the feed keeps it current), a negative one for NEGATIVE_TTL_MS. */
  #fresh(key: string): T | null | undefined {
    const held = this.#held.get(key);
    if (!held) return undefined;
    if (held.value === null) return Date.now() - held.at > NEGATIVE_TTL_MS ? undefined : null;
    this.#budget.touch(this.name, `k:${key}`);
    return held.value;
  }

  /**
   * Reads `key` from KV (one direct get; concurrent readers of a key share it) and holds the
   * answer. An answer from a replica that is behind what this copy applied when the read began may
   * miss a delete the copy saw go by: the stream leader is asked instead. Writes the feed brings
   * meanwhile win over an older answer.
   */
  #fill(key: string): Promise<T | null> {
    const pending = this.#filling.get(key);
    if (pending) return pending.promise;
    const since = this.#seen;
    const slot: { promise: Promise<T | null>; revision: number; value: T | null | undefined } = { promise: Promise.resolve(null), revision: since, value: undefined };
    slot.promise = (async () => {
      try {
        const read = await this.bucket.lastFor(key);
        let value = read.value === null ? null : this.#parse(read.value);
        let revision = read.revision;
        let raw = read.value?.length ?? 0;
        // A replica behind this copy may miss a write the copy saw go by (a delete, or a create it
        // answers "no such key" for), as the keys written lately tell: the leader is asked.
        if (read.revision < (this.#recent.get(key) ?? 0)) {
          const latest = await this.bucket.latest(key);
          value = latest ? this.#slim(latest.value) : null;
          revision = latest?.revision ?? since;
          raw = latest ? JSON.stringify(latest.value).length : 0;
        }
        if (slot.value !== undefined && slot.revision > revision) {
          value = slot.value;
          revision = slot.revision;
        }
        this.#hold(key, value, Math.max(revision, since), raw);
        return value;
      } finally {
        this.#filling.delete(key);
      }
    })();
    this.#filling.set(key, slot);
    return slot.promise;
  }

  /**
   * For the auth callout, which must not wait on JetStream: the record as held; else one direct
   * get, any replica answering, within `timeoutMs`. A copy known to be behind is not trusted: the
   * record is read from KV. When KV does not answer in time, a held record is used, else none.
   */
  async readWithin(key: string, timeoutMs = READ_THROUGH_TIMEOUT_MS): Promise<T | null> {
    if (this.lagSeconds() * 1000 >= READ_THROUGH_MS) return this.#readThrough(key, timeoutMs);
    // Behind for a moment (a write of this instance's, or one the probe saw): a record held now may
    // be a step short (an account still `creating`), so the copy gets CATCH_UP_WAIT_MS to apply it.
    const newest = this.#unmet[this.#unmet.length - 1];
    if (newest && !(await this.#reach(newest.seq, CATCH_UP_WAIT_MS))) return this.#readThrough(key, timeoutMs);
    const held = this.#fresh(key);
    if (held !== undefined) return held;
    return this.#readThrough(key, timeoutMs);
  }

  async #readThrough(key: string, timeoutMs: number): Promise<T | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
    try {
      const got = await Promise.race([this.#fill(key), late]);
      if (got !== "late") return got;
    } catch {
      // KV did not answer: what is held is all there is
    } finally {
      clearTimeout(timer);
    }
    return this.#held.get(key)?.value ?? null;
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
   * The record as the stream leader holds it (read-your-writes: a direct get may be answered by a
   * follower that missed a write already answered), then held; as `read` when the leader does not answer.
   */
  async readLatest(key: string): Promise<T | null> {
    try {
      const latest = await this.bucket.latest(key);
      const raw = latest ? JSON.stringify(latest.value).length : 0;
      const value = latest ? this.#slim(latest.value) : null;
      this.#hold(key, value, Math.max(latest?.revision ?? 0, this.#held.get(key)?.revision ?? 0), raw);
      return value;
    } catch {
      return this.read(key);
    }
  }

  /** The record as held now, without asking KV (tests). */
  held(key: string): T | undefined {
    return this.#held.get(key)?.value ?? undefined;
  }

  /**
   * Waits until the view holds every write the bucket had when called: one stream-info round trip
   * to the stream leader, shared by every caller that arrived before it was sent (a burst of
   * callers costs one or two), then no wait when the view is already there. While the stream has
   * no leader to ask (an election after a node loss), no write can land either: a copy that holds
   * everything the stream had when it last answered is as current as any, and is used.
   * UnavailableError when the copy is behind and does not catch up within `timeoutMs`.
   */
  async catchUp(timeoutMs = 2000): Promise<void> {
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

  async stop(): Promise<void> {
    clearInterval(this.#probe);
    await this.#feed?.stop();
  }
}

/** The group of a project's records (its accounts, its API keys): the prefix of their keys. */
export function projectGroup(project: string): string {
  return `${project}.`;
}

/** The group of one account's credentials within a project: the prefix of their keys. */
export function accountGroup(project: string, accountId: string): string {
  return `${project}.${accountId}.`;
}

/** The first `tokens` tokens of a key and the dot after them (its group), or undefined for a shorter key. */
function prefixOf(key: string, tokens: number): string | undefined {
  let at = -1;
  for (let i = 0; i < tokens; i++) {
    at = key.indexOf(".", at + 1);
    if (at < 0) return undefined;
  }
  return key.slice(0, at + 1);
}

/**
 * A key read from KV, as a string of its own, for keys the copy keeps: a direct get's subject is
 * cut from its header block, and a slice of it would keep the whole block (about 300 bytes) alive
 * for as long as the key is held. Walks that hold nothing do not pay for the copy.
 */
function ownKey(read: string): string {
  return Buffer.from(read).toString();
}

function parseStored<S>(raw: Uint8Array): S | null {
  try {
    return JSON.parse(new TextDecoder().decode(raw)) as S;
  } catch {
    return null; // an unreadable record is no record
  }
}

/** An account as a view holds it: everything but its JWT. */
export type HeldAccount = Omit<AccountRecord, "jwt">;

function withoutJwt(stored: AccountRecord): HeldAccount {
  const { jwt: _jwt, ...held } = stored;
  return held;
}

/** The views an instance keeps: what the callout looks up and what list pages read. */
export interface StoreViews {
  /** Accounts as held: without their JWT (which readers of the copy never use; the resolver pushes read KV). */
  readonly accounts: RecordView<HeldAccount, AccountRecord>;
  readonly credentials: RecordView<CredentialsRecord>;
  readonly projects: RecordView<ProjectRecord>;
  readonly apiKeys: RecordView<ApiKeyRecord>;
  readonly credentialKeys: RecordView<CredentialKeyRecord>;
}

export interface OpenViewsOptions {
  /** The memory bound of every view together, bytes (`MNQ_CACHE_MIB`). */
  cacheBytes?: number;
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
  /** The shared memory bound: bytes charged, entries, evictions. */
  cache(): { bytes: number; entries: number; evictions: number; maxBytes: number };
  stop(): Promise<void>;
}

/** The buckets an instance keeps a copy of (`openViews`). */
export const VIEWED_BUCKETS = [BucketName.accounts, BucketName.credentials, BucketName.projects, BucketName.apiKeys, BucketName.credentialKeys] as const;

/** The default memory bound of the views together. */
export const DEFAULT_CACHE_BYTES = 96 * 1024 * 1024;

/** Opens every view: one round trip each, whatever the buckets hold. */
export async function openViews(store: Store, opts: OpenViewsOptions = {}): Promise<OpenedViews> {
  const budget = new CacheBudget(opts.cacheBytes ?? DEFAULT_CACHE_BYTES);
  const options = <T>(bucket: RecordBucket<T>, groupTokens?: number): ViewOptions<T> => ({
    budget,
    ...(groupTokens ? { groupOf: (key: string) => prefixOf(key, groupTokens) } : {}),
    onReset: (reason) => opts.onReset?.(bucket.name, reason),
    frozen: opts.frozen === bucket.name,
  });
  const [accounts, credentials, projects, apiKeys, credentialKeys] = await Promise.all([
    // `<project>.<account id>`: grouped by project (list pages)
    RecordView.open<HeldAccount, AccountRecord>(store.accounts, { ...options(store.accounts, 1), slim: withoutJwt }),
    // `<project>.<account id>.<id>`: grouped by account (list pages, the bound on credentials and revocations)
    RecordView.open(store.credentials, options(store.credentials, 2)),
    RecordView.open(store.projects, options(store.projects)),
    // `<access key>.<project>`: looked up as `<access key>.*` (the callout), grouped as `*.<project>` (list pages)
    RecordView.open(store.apiKeys, {
      ...options(store.apiKeys),
      groupOf: (key: string) => `*.${key.slice(key.indexOf(".") + 1)}`,
      aliasOf: (key: string) => `${key.slice(0, key.indexOf("."))}.*`,
    }),
    RecordView.open(store.credentialKeys, options(store.credentialKeys)),
  ]);
  const views = { accounts, credentials, projects, apiKeys, credentialKeys };
  const all: Pick<RecordView<unknown>, "name" | "applied" | "lagSeconds" | "stop">[] = Object.values(views);
  return {
    ...views,
    lag: () => all.map((v) => ({ bucket: v.name, seconds: v.lagSeconds() })),
    applied: (bucket) => all.find((v) => v.name === bucket)?.applied ?? -1,
    cache: () => ({ ...budget.stats(), maxBytes: budget.maxBytes }),
    stop: async () => {
      await Promise.all(all.map((v) => v.stop()));
    },
  };
}
