import type { AccountRecord, ApiKeyRecord, CredentialsRecord } from "./records.ts";
import type { StoreViews } from "./view.ts";

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
/** However long a count takes, it is made again at least this often while asked for. */
const STALE_MS = 5 * 60_000;
/** How long a scrape waits for a count. */
const SCRAPE_WAIT_MS = 1000;

/**
 * The fleet's size, counted by walking KV (batched direct gets, nothing held): no instance holds
 * every record, and a KV stream's message count includes the markers of deleted keys. A small
 * fleet is counted when asked (within FRESH_MS); a large one in the background, at most every
 * STALE_MS, and asked between two counts it answers with the last.
 */
export class FleetCounter {
  #last: (FleetCounts & { at: number; tookMs: number }) | undefined;
  #running: Promise<FleetCounts> | undefined;

  constructor(private readonly views: Pick<StoreViews, "accounts" | "credentials" | "apiKeys">) {}

  /** The counts: made now when the last is old and counting is cheap, else the last (and a new one begun when stale). */
  async current(): Promise<FleetCounts> {
    const last = this.#last;
    const age = last ? Date.now() - last.at : Number.POSITIVE_INFINITY;
    if (!last) return this.#count();
    if (age > STALE_MS || last.tookMs < TRIVIAL_MS || (age > FRESH_MS && last.tookMs < CHEAP_MS)) {
      const next = this.#count();
      if (last.tookMs < CHEAP_MS) return next;
      next.catch(() => undefined);
    }
    return last;
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
    this.#running ??= (async () => {
      const started = Date.now();
      try {
        const projects = new Set<string>();
        let accounts = 0;
        for await (const { value } of this.views.accounts.scan()) {
          const a: AccountRecord = value;
          if (a.state !== "active" || a.kind) continue;
          accounts++;
          projects.add(a.project_id);
        }
        const counted = {
          projects: projects.size,
          nats_accounts: accounts,
          nats_credentials: await tally<CredentialsRecord>(this.views.credentials.scan()),
          api_keys: await tally<ApiKeyRecord>(this.views.apiKeys.scan()),
        };
        this.#last = { ...counted, at: Date.now(), tookMs: Date.now() - started };
        return counted;
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }
}

async function tally<T>(records: AsyncIterable<{ value: T }>): Promise<number> {
  let n = 0;
  for await (const _ of records) n++;
  return n;
}
