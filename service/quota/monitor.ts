import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../runtime/log.ts";
import { type AccountRecord, type HeldAccount, Pacer, type QuotaStateRecord, type RecordView, Store } from "../store/index.ts";
import { readAllStorage } from "./usage.ts";
import { Rounds } from "../runtime/rounds.ts";
import { type BackgroundWork, tracked } from "../runtime/background.ts";

/** docs/api.md quota event, published on `mnq.events.v1.<project>.nats-accounts.quota`. */
export interface QuotaEvent {
  type: "quota";
  project_id: string;
  nats_account_id: string;
  threshold: 80 | 100;
  used_bytes: number;
  quota_bytes: number;
  time: string;
}

export type QuotaLevel = QuotaStateRecord["level"];

/** 100 when less than one largest message is left, 80 from 80 % of the quota, else 0. */
export function quotaLevel(usedBytes: number, quotaBytes: number, maxPayload: number): QuotaLevel {
  if (quotaBytes <= 0) return 0;
  if (usedBytes >= quotaBytes - maxPayload) return 100;
  if (usedBytes >= quotaBytes * 0.8) return 80;
  return 0;
}

export interface QuotaMonitorOptions {
  store: Store;
  /** The accounts to watch, read from memory each round. */
  accounts: RecordView<HeldAccount, AccountRecord>;
  /** System user: reads JSZ from every server. */
  sys: NatsConnection;
  /** Service user: publishes the events (in MNQ, whose export reaches each project's api-clients account). */
  quotaBytes: number;
  maxPayload: number;
  intervalMs: number;
  timeoutMs: number;
  log: Logger;
  /** Publishes a quota event (the events' publisher, which lifecycle events go through too). */
  publish: (event: QuotaEvent) => void;
  /** Where the checks are counted (metrics). */
  background?: BackgroundWork;
}

const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Checks every account's storage use at an interval and publishes an event when it crosses 80 % or
 * 100 % of the quota upwards; nothing more until it drops back under. The level last seen is kept
 * per account in KV and changed with a revision check, so with several instances only the one
 * whose write wins publishes.
 */
export class QuotaMonitor {
  readonly #known = new Map<string, QuotaLevel>();
  /** Storage used by each tenant account at the last check: account id → bytes (replaced each round). */
  #used: { project_id: string; nats_account_id: string; used_bytes: number }[] = [];
  readonly #rounds: Rounds;

  constructor(private readonly opts: QuotaMonitorOptions) {
    this.#rounds = new Rounds(opts.intervalMs, () => tracked(opts.background, "quota_check", () => this.check()), (err) => opts.log.warn({ err: String(err) }, "quota check failed; next round retries"));
  }

  start(): void {
    this.#rounds.start();
  }

  stop(): Promise<void> {
    return this.#rounds.stop();
  }

  /** Each tenant account's storage at the last check, with its quota. */
  *storage(): Iterable<{ project_id: string; nats_account_id: string; used_bytes: number; quota_bytes: number }> {
    for (const u of this.#used) yield { ...u, quota_bytes: this.opts.quotaBytes };
  }

  readonly #projects = new Map<string, string | null>();

  /** The project of a tenant account (null: not one, or gone). */
  async #projectOf(id: string): Promise<string | null> {
    if (this.#projects.has(id)) return this.#projects.get(id) ?? null;
    const rec = await this.opts.accounts.find(Store.accountPattern(id)).catch(() => undefined);
    if (rec === undefined) return null; // KV did not answer: asked again next round
    if (!rec || rec.value.state !== "active") return null; // not one of mnq's, or not yet or no longer
    const project = rec.value.kind ? null : rec.value.project_id;
    this.#projects.set(id, project);
    return project;
  }

  /** One round: the events it published. */
  async check(): Promise<QuotaEvent[]> {
    const { store, quotaBytes } = this.opts;
    if (quotaBytes <= 0) return [];
    const maxPayload = this.opts.maxPayload > 0 ? this.opts.maxPayload : DEFAULT_MAX_PAYLOAD;
    const used = await readAllStorage(this.opts.sys, this.opts.timeoutMs, { pace: new Pacer().pace });
    // The accounts nats-server reports JetStream for (and those last seen over a threshold), not
    // every account of the fleet; each one's project read once and remembered.
    const accounts: { id: string; project_id: string }[] = [];
    for (const id of new Set([...used.keys(), ...this.#known.keys()])) {
      const project = await this.#projectOf(id);
      if (project) accounts.push({ id, project_id: project });
      else this.#known.delete(id);
    }
    for (const id of this.#projects.keys()) if (!used.has(id)) this.#projects.delete(id);
    this.#used = accounts.map((a) => ({ project_id: a.project_id, nats_account_id: a.id, used_bytes: used.get(a.id) ?? 0 }));
    const published: QuotaEvent[] = [];
    for (const account of accounts) {
      const usedBytes = used.get(account.id) ?? 0;
      const level = quotaLevel(usedBytes, quotaBytes, maxPayload);
      // KV is read only for a level this instance has not seen confirmed there
      if (this.#known.get(account.id) === level) continue;
      const key = Store.accountKey(account.project_id, account.id);
      let previous: QuotaLevel = 0;
      const written = await store.quota
        .modify(
          key,
          (cur) => {
            previous = cur?.value.level ?? 0;
            return previous === level ? null : { level, updated_at: new Date().toISOString() };
          },
          1,
        )
        .catch(() => null); // another instance changed it first: it publishes
      if (!written) {
        if (previous === level) this.#known.set(account.id, level); // KV already says so
        continue;
      }
      this.#known.set(account.id, level);
      for (const threshold of [80, 100] as const) {
        if (previous < threshold && level >= threshold) {
          const event: QuotaEvent = {
            type: "quota",
            project_id: account.project_id,
            nats_account_id: account.id,
            threshold,
            used_bytes: usedBytes,
            quota_bytes: quotaBytes,
            time: new Date().toISOString(),
          };
          this.opts.publish(event);
          published.push(event);
          this.opts.log.info({ project: account.project_id, account: account.id, threshold, used_bytes: usedBytes }, "quota threshold crossed");
        }
      }
    }
    return published;
  }
}
