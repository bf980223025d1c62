import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { EVENT_TYPES } from "../contract/subjects.ts";
import type { BackgroundFigure } from "../runtime/background.ts";

export type AuthMethod = "api_key" | "nkey" | "none";

/** The `type` label of mnq_events_published_total: each event's `type` (the quota event's is `quota`). */
const EVENT_METRIC_TYPES = EVENT_TYPES.map((t) => (t === "nats-accounts.quota" ? "quota" : t));
export type AuthResult = "allowed" | "denied" | "error";

/** What the gauges read at each scrape (the instance's views and its last storage check). */
export interface ObservedState {
  /** The fleet's size (counted in KV: may take a moment). */
  accounts(): Promise<number>;
  credentials(): Promise<number>;
  apiKeys(): Promise<number>;
  /** Storage used by each tenant account at the last quota check, with its quota. */
  storage(): Iterable<StorageFigure>;
  /** How far behind its stream each of the instance's views is. */
  viewLag(): Iterable<{ bucket: string; seconds: number }>;
  /** The records the views hold: bytes charged (an estimate of V8's), the bound, evictions so far. */
  cache(): { bytes: number; maxBytes: number; entries: number; evictions: number };
  /** The instance's own rounds (count, reconcile, resolver lists, quota checks): running now, begun so far. */
  background(): Iterable<BackgroundFigure>;
}

/** The buckets an instance keeps views of, and why a view's feed may be made anew: their series exist from the start. */
export interface ViewLabels {
  buckets: readonly string[];
  reasons: readonly string[];
}

export interface StorageFigure {
  project_id: string;
  nats_account_id: string;
  used_bytes: number;
  quota_bytes: number;
}

/** Seconds: from 100 µs (a callout decided from memory) to 10 s (a teardown). */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * mnq's Prometheus metrics, in a registry of its own (one per instance). Recording is a counter
 * increment and a histogram observation; the gauges are read only when scraped. Labels carry
 * endpoint names, methods, results, status codes, project and account ids: never a secret.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #authTotal: Counter<"method" | "result">;
  readonly #authDuration: Histogram<"method">;
  readonly #apiTotal: Counter<"endpoint" | "status">;
  readonly #apiDuration: Histogram<"endpoint">;
  readonly #resolverFailures: Counter<"op">;
  readonly #events: Counter<"type">;
  readonly #viewResets: Counter<"bucket" | "reason">;

  constructor(state: ObservedState, views: ViewLabels = { buckets: [], reasons: [] }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#authTotal = new Counter({
      name: "mnq_auth_requests_total",
      help: "Auth callout requests answered, by presented method and result.",
      labelNames: ["method", "result"],
      registers,
    });
    this.#authDuration = new Histogram({
      name: "mnq_auth_duration_seconds",
      help: "Time from an auth callout request's arrival to its answer.",
      labelNames: ["method"],
      buckets: BUCKETS,
      registers,
    });
    this.#apiTotal = new Counter({
      name: "mnq_api_requests_total",
      help: "API requests, by endpoint and status: the reply's error code, 200 for success, dropped when the reply subject was not an inbox (not answered).",
      labelNames: ["endpoint", "status"],
      registers,
    });
    this.#apiDuration = new Histogram({
      name: "mnq_api_duration_seconds",
      help: "Time from an API request's arrival to its reply.",
      labelNames: ["endpoint"],
      buckets: BUCKETS,
      registers,
    });
    this.#resolverFailures = new Counter({
      name: "mnq_resolver_push_failures_total",
      help: "Requests to the servers' resolvers (push or delete of an account JWT) that failed.",
      labelNames: ["op"],
      registers,
    });
    this.#events = new Counter({
      name: "mnq_events_published_total",
      help: "Events published on mnq.events.v1.>, by type.",
      labelNames: ["type"],
      registers,
    });
    const count = (name: string, help: string, read: () => Promise<number>) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(await read());
        },
      });
    count("mnq_nats_accounts", "Tenant NATS accounts (active).", () => state.accounts());
    count("mnq_nats_credentials", "Credentials.", () => state.credentials());
    count("mnq_api_keys", "API keys (admin keys included).", () => state.apiKeys());
    const perAccount = (name: string, help: string, pick: (s: StorageFigure) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["project_id", "nats_account_id"],
        registers,
        collect() {
          this.reset(); // a deleted account leaves no series behind
          for (const s of state.storage()) this.set({ project_id: s.project_id, nats_account_id: s.nats_account_id }, pick(s));
        },
      });
    this.#viewResets = new Counter({
      name: "mnq_view_resets_total",
      help: "Times a view's feed (the ordered consumer that brings a bucket's writes) was made anew, by bucket and reason.",
      labelNames: ["bucket", "reason"],
      registers,
    });
    for (const bucket of views.buckets) for (const reason of views.reasons) this.#viewResets.inc({ bucket, reason }, 0);
    // every known series from the start at 0: a panel (and a rate or an alert on it) has a line
    // before the first failure or event, instead of "no data"
    for (const op of ["push", "delete"] as const) this.#resolverFailures.inc({ op }, 0);
    for (const type of EVENT_METRIC_TYPES) this.#events.inc({ type }, 0);
    for (const method of ["api_key", "nkey"] as const) for (const result of ["allowed", "denied", "error"] as const) this.#authTotal.inc({ method, result }, 0);
    new Gauge({
      name: "mnq_view_lag_seconds",
      help: "Seconds since the bucket's stream held a write that this instance's copy has not applied (0: current at the last check, twice a second).",
      labelNames: ["bucket"],
      registers,
      collect() {
        for (const v of state.viewLag()) this.set({ bucket: v.bucket }, v.seconds);
      },
    });
    const cache = (name: string, help: string, read: (c: ReturnType<ObservedState["cache"]>) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(state.cache()));
        },
      });
    cache("mnq_cache_bytes", "Estimated memory of the records the views hold (MNQ_CACHE_MIB bounds it).", (c) => c.bytes);
    cache("mnq_cache_max_bytes", "The bound of mnq_cache_bytes (MNQ_CACHE_MIB).", (c) => c.maxBytes);
    cache("mnq_cache_entries", "Records and groups the views hold.", (c) => c.entries);
    cache("mnq_cache_evictions", "Records and groups let go of since the start, least recently used first (read again from KV when asked for).", (c) => c.evictions);
    new Gauge({
      name: "mnq_background_running",
      help: "The instance's own work running now, by kind: fleet_count, reconcile, resolver_list (a server reads every account JWT to answer), quota_check. A login or page slower than usual while one runs met it.",
      labelNames: ["work"],
      registers,
      collect() {
        for (const b of state.background()) this.set({ work: b.work }, b.running);
      },
    });
    new Counter({
      name: "mnq_background_rounds_total",
      help: "Rounds of the instance's own work begun since the start, by kind (see mnq_background_running).",
      labelNames: ["work"],
      registers,
      collect() {
        this.reset();
        for (const b of state.background()) this.inc({ work: b.work }, b.begun);
      },
    });
    perAccount("mnq_account_storage_used_bytes", "JetStream storage used by an account, replicas counted, at the last quota check.", (s) => s.used_bytes);
    perAccount("mnq_account_storage_quota_bytes", "The account's JetStream storage quota (-1 unlimited).", (s) => s.quota_bytes);
  }

  auth(method: AuthMethod, result: AuthResult, seconds: number): void {
    this.#authTotal.inc({ method, result });
    this.#authDuration.observe({ method }, seconds);
  }

  /** A request not answered: its reply subject was not an inbox. */
  dropped(endpoint: string): void {
    this.#apiTotal.inc({ endpoint, status: "dropped" });
  }

  api(endpoint: string, status: number, seconds: number): void {
    this.#apiTotal.inc({ endpoint, status: String(status) });
    this.#apiDuration.observe({ endpoint }, seconds);
  }

  resolverFailure(op: "push" | "delete"): void {
    this.#resolverFailures.inc({ op });
  }

  viewReset(bucket: string, reason: string): void {
    this.#viewResets.inc({ bucket, reason });
  }

  event(type: string): void {
    this.#events.inc({ type });
  }

  /** The text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
