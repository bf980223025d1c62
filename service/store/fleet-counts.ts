import { UnavailableError } from "../contract/errors.ts";
import { COUNT_BATCH, WALK_BATCH, WALK_BATCH_BYTES } from "./bucket.ts";
import { Pacer } from "./pacer.ts";
import { type BackgroundWork, tracked } from "../runtime/background.ts";
import { type AccountRecord, isTenantAccount } from "./records.ts";
import type { Store } from "./store.ts";

/** What `mnq.admin.v1.status` and the fleet gauges report. */
export interface FleetCounts {
  projects: number;
  nats_accounts: number;
  nats_credentials: number;
  api_keys: number;
}

/** A count that took less than TRIVIAL_MS is made again whenever asked for; less than CHEAP_MS, when older than FRESH_MS. */
const TRIVIAL_MS = 100;
const CHEAP_MS = 1000;
const FRESH_MS = 5000;
/** A count is made again when older than this while asked for, or than COUNTING_SHARE times what it took, whichever is longer. */
const STALE_MS = 5 * 60_000;
/**
 * A fleet whose count takes long is counted at most 1/COUNTING_SHARE of the time: at a million
 * credentials a count walks for about 90 s (it gives way to traffic), which every 5 minutes would
 * have one running 30% of the time, its reads and garbage beside every login.
 */
const COUNTING_SHARE = 20;
/** A count gives way to the traffic: after its first second it reads at most a fifth of the time. */
const REST_FACTOR = 4;
/** How long a scrape waits for a count. */
const SCRAPE_WAIT_MS = 1000;
/** How long a status request waits for the first count since the start before answering 503. */
const FIRST_COUNT_WAIT_MS = 3000;

/**
 * The fleet's size, counted by walking KV (batched direct gets, nothing held): no instance holds
 * every record, and a KV stream's message count includes the markers of deleted keys. A small
 * fleet is counted when asked (within FRESH_MS); a large one in the background, after STALE_MS or
 * COUNTING_SHARE times its last count's length, and asked between two counts it answers with the last.
 */
export class FleetCounter {
  #last: (FleetCounts & { at: number; tookMs: number }) | undefined;
  #running: Promise<FleetCounts> | undefined;

  constructor(
    private readonly store: Pick<Store, "accounts" | "credentialKeys" | "apiKeys">,
    private readonly background?: BackgroundWork,
  ) {}

  /** The counts: made now when the last is old and counting is cheap, else the last (and a new one begun when stale). */
  async current(): Promise<FleetCounts> {
    const last = this.#last;
    if (!last) return within(this.#count(), FIRST_COUNT_WAIT_MS);
    const again = recount(last, Date.now());
    if (again === "await") return this.#count();
    if (again === "background") this.#count().catch(() => undefined);
    return last;
  }

  /** Begins the first count (at start, so that a status request later finds one). */
  begin(): void {
    if (!this.#last) this.#count().catch(() => undefined);
  }

  /** For a scrape, which must not wait long: `current()` within SCRAPE_WAIT_MS, else the last counts (zeros before the first). */
  async forScrape(): Promise<FleetCounts> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), SCRAPE_WAIT_MS)));
    try {
      return (await Promise.race([this.current().catch(() => undefined), late])) ?? this.#last ?? { projects: 0, nats_accounts: 0, nats_credentials: 0, api_keys: 0 };
    } finally {
      clearTimeout(timer);
    }
  }

  #count(): Promise<FleetCounts> {
    this.#running ??= tracked(this.background, "fleet_count", async () => {
      const started = Date.now();
      const { pace } = new Pacer(REST_FACTOR);
      try {
        const projects = new Set<string>();
        let accounts = 0;
        for await (const { value } of this.store.accounts.scan("", WALK_BATCH, pace, WALK_BATCH_BYTES)) {
          if (value === null) continue;
          const a = parseAccount(value);
          if (!a || !isTenantAccount(a)) continue;
          accounts++;
          projects.add(a.project_id);
        }
        const counted = {
          projects: projects.size,
          nats_accounts: accounts,
          // the index (one small entry per credential, what the callout reads) rather than the records
          nats_credentials: await this.store.credentialKeys.countLive(COUNT_BATCH, pace),
          api_keys: await this.store.apiKeys.countLive(COUNT_BATCH, pace),
        };
        this.#last = { ...counted, at: Date.now(), tookMs: Date.now() - started };
        return counted;
      } finally {
        this.#running = undefined;
      }
    });
    return this.#running;
  }
}

/**
 * Whether a count is made when the counts are asked for at `now`, after one made at `last.at` that
 * took `last.tookMs`: awaited (cheap enough to answer with), begun in the background while the last
 * answers, or none.
 */
export function recount(last: { at: number; tookMs: number }, now: number): "await" | "background" | "none" {
  const age = now - last.at;
  if (last.tookMs < TRIVIAL_MS) return "await";
  if (last.tookMs < CHEAP_MS) return age > FRESH_MS ? "await" : "none";
  return age > Math.max(STALE_MS, COUNTING_SHARE * last.tookMs) ? "background" : "none";
}

/** `count` when it is over within `ms`, else UnavailableError (it goes on, for the next caller). */
async function within(count: Promise<FleetCounts>, ms: number): Promise<FleetCounts> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    const counted = await Promise.race([count, late]);
    if (counted) return counted;
    throw new UnavailableError("the fleet is being counted for the first time since the start; retry in a minute");
  } finally {
    clearTimeout(timer);
  }
}

function parseAccount(raw: Uint8Array): AccountRecord | null {
  try {
    return JSON.parse(new TextDecoder().decode(raw)) as AccountRecord;
  } catch {
    return null;
  }
}
