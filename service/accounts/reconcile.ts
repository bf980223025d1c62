import type { Logger } from "../runtime/log.ts";
import { Rounds } from "../runtime/rounds.ts";
import { type AccountRecord, Pacer, Store, type StoreViews } from "../store/index.ts";
import type { AccountPublisher } from "./publisher.ts";
import type { ResolverClient } from "../resolver/index.ts";
import { withoutImportsOf } from "./sharing.ts";
import { inChunks } from "../runtime/batches.ts";
import { type BackgroundWork, tracked } from "../runtime/background.ts";
import { releasePlace, type TeardownDeps, teardownAccount } from "./teardown.ts";

export interface ReconcileReport {
  /** Active accounts whose JWT was pushed (all at start-up, else those a resolver lacked). */
  pushed: number;
  /** JWTs issued again because the quota policy changed. */
  reissued: number;
  /** Half-done deletes completed. */
  deleted: number;
  /** Creates that died half-way (a `creating` record, an unclaimed api-clients account), undone. */
  rolledBack: number;
  /** Project places reserved by a create that never wrote its record, released. */
  released: number;
  /** Account JWTs on a resolver with no record in KV, deleted. */
  orphans: number;
  /** Accounts whose imports of a deleted account were removed (a delete that stopped before it did). */
  unlinked: number;
  failed: number;
}

/** An API key's account younger than this is checked for its key every round (see `#keyWorthAsking`). */
const RECENT_KEY_ACCOUNT_MS = 10 * 60_000;
/**
 * A round rests at least this many times its own length before the next: at 1,000,000 credentials
 * (120,000 accounts) a round takes about a minute and a half, most of it paced, and would otherwise
 * run most of the time.
 */
const ROUND_REST_FACTOR = 4;
/** A start's round rests as long as each of its batches took (at 120,000 accounts, unpaced, it took V8's heap to 330 MiB). */
const STARTUP_REST_FACTOR = 1;
/** A list of the resolvers' accounts is asked for at most once every this many times its length. */
const LIST_SHARE = 20;
/** A list quicker than this is asked for every round. */
const LIST_ALWAYS_MS = 1000;
/** Account records walked together: their API keys are looked up in one batched read. */
const KEY_CHECKS = 500;

export interface ReconcileDeps extends TeardownDeps {
  store: Store;
  publisher: AccountPublisher;
  resolver: ResolverClient;
  views: Pick<StoreViews, "accounts" | "projects" | "credentials" | "apiKeys">;
  /** Accounts of the operator that no record describes: MNQ and SYS. */
  systemAccounts: readonly string[];
  /** Where rounds and lists are counted (metrics). */
  background?: BackgroundWork;
}

/**
 * Whether a round lists the resolvers' accounts, given the last list (when, ms of `performance.now()`,
 * and how long it took): at start-up, whenever a list is quick, else once LIST_SHARE times its
 * length has passed, so that listing takes a server at most a twentieth of the time.
 */
export function listDue(last: { at: number; tookMs: number } | undefined, now: number, startup: boolean): boolean {
  return startup || !last || last.tookMs < LIST_ALWAYS_MS || now - last.at >= last.tookMs * LIST_SHARE;
}

/** The accounts the resolvers that answered hold, each with how many hold it. */
type Resolvers = { lists: number; held: Map<string, number> };

/** What the passes of one round share. */
interface Round {
  startup: boolean;
  report: ReconcileReport;
  pace: (() => Promise<void>) | undefined;
  /** True when the same thing looked half-done, unchanged, in the previous round too. */
  stuck: (mark: string, fingerprint: string) => boolean;
  /** Runs a step, counted in the report as `what` when done, as failed (and logged) when not. */
  attempt: (what: keyof ReconcileReport, ctx: Record<string, string>, step: () => Promise<unknown>) => Promise<void>;
}

/**
 * Keeps the resolvers and the records in line with KV, the source of truth. Every instance runs
 * it: at start-up, then every `intervalMs`; every step is safe to run twice or concurrently.
 *
 * - an active account a resolver lacks (or every one, at start-up) is pushed again;
 * - a `deleting` record is torn down to the end;
 * - an import of an account that has no record any more is removed (the delete stopped before);
 * - a `creating` record, an api-clients account its project never claimed or whose key is gone, a project place with no
 *   record, and a JWT on a resolver with no record are each the trace of a create that died: they
 *   are undone once seen unchanged in two rounds in a row (a create in progress changes within
 *   one round), so a live create on another instance is not taken for a dead one.
 */
export class Reconciler {
  /** What looked half-done in the last round: mark → fingerprint. */
  #suspects = new Map<string, string>();
  readonly #rounds: Rounds;
  /** When the resolvers were last listed, and how long that took. */
  #listed: { at: number; tookMs: number } | undefined;

  constructor(
    private readonly deps: ReconcileDeps,
    private readonly log: Logger,
    intervalMs: number,
  ) {
    this.#rounds = new Rounds(
      intervalMs,
      async () => this.report(await this.round(false)),
      (err) => this.log.warn({ err: String(err) }, "reconcile: round failed; the next round retries"),
      ROUND_REST_FACTOR,
    );
  }

  /** Runs a round every `intervalMs` until `stop()`. */
  start(): void {
    this.#rounds.start();
  }

  stop(): Promise<void> {
    return this.#rounds.stop();
  }

  private report(r: ReconcileReport): void {
    const { pushed, reissued, deleted, rolledBack, released, orphans, unlinked, failed } = r;
    if (pushed + reissued + deleted + rolledBack + released + orphans + unlinked + failed > 0) {
      this.log.info(r, "reconcile: resolvers and records brought in line with KV");
    }
  }

  /**
   * One round of three passes: the accounts (push to a resolver that lacks one, re-issue stale JWTs,
   * finish deletes, undo dead creates), the JWTs no record describes, and the project places no
   * record fills. `startup`: finish deletes at once (the instance that began them is gone, or
   * resumes them itself), always list the resolvers, and walk half the time (a later round, a fifth).
   */
  round(startup: boolean): Promise<ReconcileReport> {
    return tracked(this.deps.background, "reconcile", () => this.#round(startup));
  }

  async #round(startup: boolean): Promise<ReconcileReport> {
    const report: ReconcileReport = { pushed: 0, reissued: 0, deleted: 0, rolledBack: 0, released: 0, orphans: 0, unlinked: 0, failed: 0 };
    const suspects = new Map<string, string>();
    const r: Round = {
      startup,
      report,
      // a round at start-up brings resolvers back sooner (it walks half the time, where later rounds
      // walk a fifth); both give way to the traffic, and let the collector keep up with a walk's garbage
      pace: new Pacer(startup ? STARTUP_REST_FACTOR : undefined).pace,
      stuck: (mark, fingerprint) => {
        suspects.set(mark, fingerprint);
        return this.#suspects.get(mark) === fingerprint;
      },
      attempt: async (what, ctx, step) => {
        try {
          await step();
          report[what]++;
        } catch (err) {
          report.failed++;
          this.log.warn({ ...ctx, err: String(err) }, `reconcile: ${what} not done; will retry`);
        }
      },
    };
    const resolvers = await this.#resolvers(startup);
    const known = await this.#accountsPass(r, resolvers);
    await this.#orphansPass(r, resolvers, known);
    await this.#placesPass(r, known);
    this.#suspects = suspects;
    return report;
  }

  /**
   * What the resolvers hold, when `listDue`: a server reads every JWT file to answer (19 s of a core
   * at 120,000 accounts). A round without a list judges no resolver (no pushes, no orphans); it
   * does the rest.
   */
  async #resolvers(startup: boolean): Promise<Resolvers> {
    const now = performance.now();
    if (!listDue(this.#listed, now, startup)) return { lists: 0, held: new Map() };
    const { lists, held, slowestMs } = await tracked(this.deps.background, "resolver_list", () => this.deps.resolver.claimCounts());
    // what listing cost the servers that answered; a dead one's wait is not theirs
    this.#listed = { at: now, tookMs: slowestMs };
    return { lists, held };
  }

  /** Each account record: what it needs done. The ids of the accounts seen (and the system accounts). */
  async #accountsPass(r: Round, resolvers: Resolvers): Promise<Set<string>> {
    const { views } = this.deps;
    const known = new Set<string>(this.deps.systemAccounts);
    // a walk over KV in batches (any replica answers): nothing of the fleet is held for it
    // the start's walk leaves the tenant accounts held (within half the budget): first logins after a
    // start read only their identity (an API key's login reads no account: its key carries what it needs)
    const warm = (a: { kind?: string }) => r.startup && !a.kind;
    for await (const chunk of inChunks(views.accounts.scan("", r.pace, warm), KEY_CHECKS)) {
      const keyGone = await this.#keysGone(r, chunk);
      for (const { value: rec } of chunk) await this.#account(r, rec, resolvers, keyGone, known);
    }
    return known;
  }

  /** What one account record needs done, if anything. */
  async #account(r: Round, rec: AccountRecord, resolvers: Resolvers, keyGone: (rec: AccountRecord) => boolean, known: Set<string>): Promise<void> {
    const { publisher } = this.deps;
    const { project_id: project, id } = rec;
    const key = Store.accountKey(project, id);
    const ctx = { account: id, project };
    known.add(id);
    const gone = new Set(rec.state === "active" && !rec.kind ? await this.#goneImports(project, rec.imports) : []);
    if (rec.state === "deleting") {
      if (r.startup || r.stuck(`deleting:${key}`, rec.updated_at)) await r.attempt("deleted", ctx, () => teardownAccount(this.deps, project, id));
    } else if (rec.state === "creating") {
      if (r.stuck(`creating:${key}`, rec.updated_at)) {
        await r.attempt("rolledBack", ctx, () => teardownAccount(this.deps, project, id, { rollback: true }));
      }
    } else if (keyGone(rec)) {
      // an API key's account whose key is gone (a create that died before storing the key, a delete before the teardown)
      if (r.stuck(`unclaimed:${key}`, rec.updated_at)) await r.attempt("rolledBack", ctx, () => teardownAccount(this.deps, project, id));
    } else if (gone.size > 0) {
      await r.attempt("unlinked", ctx, () => publisher.change(project, id, withoutImportsOf(gone)));
    } else if (publisher.isStale(rec)) {
      await r.attempt("reissued", ctx, () => publisher.change(project, id, () => ({})));
    } else if ((resolvers.held.get(id) ?? 0) < resolvers.lists) {
      // only where a resolver lacks it: pushing every account at every start would cost each
      // instance's start a round per account of the fleet (minutes at tens of thousands)
      const current = await this.deps.store.accounts.get(key);
      if (current?.value.state === "active") await r.attempt("pushed", ctx, () => publisher.publish(current));
    }
  }

  /**
   * Whether to ask KV if an API key's account still has its key: at start-up, for an account made
   * lately (a create that dies leaves one behind), and for one the last round suspected. Not every
   * round for every key: a fleet of keys would cost a read each, every round. An account whose key
   * is gone admits nobody (the callout finds no key), so an old one waits for the next start.
   */
  #keyWorthAsking(r: Round, key: string, rec: AccountRecord): boolean {
    return r.startup || this.#suspects.has(`unclaimed:${key}`) || Date.now() - Date.parse(rec.created_at) < RECENT_KEY_ACCOUNT_MS;
  }

  /**
   * Of a chunk of account records, the api-clients accounts worth asking about whose API key has no
   * record: one batched read for the chunk (at start-up, every key account of the fleet is asked).
   */
  async #keysGone(r: Round, chunk: readonly { value: AccountRecord }[]): Promise<(rec: AccountRecord) => boolean> {
    /** The accounts asked about, each with its key's KV key (none: the record names no key). */
    const asked = new Map<AccountRecord, string | undefined>();
    for (const { value: rec } of chunk) {
      if (rec.kind !== "api-clients" || rec.state !== "active" || !this.#keyWorthAsking(r, Store.accountKey(rec.project_id, rec.id), rec)) continue;
      asked.set(rec, rec.access_key === undefined ? undefined : Store.apiKeyKey(rec.project_id, rec.access_key));
    }
    if (asked.size === 0) return () => false;
    const held = await this.deps.store.apiKeys.holding([...asked.values()].filter((k) => k !== undefined));
    return (rec) => {
      if (!asked.has(rec)) return false;
      const key = asked.get(rec);
      return key === undefined || !held.has(key);
    };
  }

  /** The accounts an account imports from that have no record any more (read from KV: a copy may lag). */
  async #goneImports(project: string, imports: AccountRecord["imports"]): Promise<string[]> {
    if (!imports?.length) return [];
    const ids = [...new Set(imports.map((i) => i.nats_account_id))];
    const recs = await Promise.all(ids.map((a) => this.deps.store.accounts.get(Store.accountKey(project, a))));
    return ids.filter((_, i) => recs[i] === null);
  }

  /** Account JWTs on a resolver that no record describes (seen so in two rounds): deleted. */
  async #orphansPass(r: Round, resolvers: Resolvers, known: Set<string>): Promise<void> {
    for (const id of resolvers.held.keys()) {
      if (known.has(id) || !r.stuck(`orphan:${id}`, "")) continue;
      // one delete reaches every resolver
      await r.attempt("orphans", { account: id }, () => this.deps.resolver.delete([id]));
    }
  }

  /**
   * Project places held for accounts with no record (seen so in two rounds): released. An account
   * id is a key of its own (an nkey), so the ids the walk saw say which places have a record.
   */
  async #placesPass(r: Round, known: Set<string>): Promise<void> {
    for await (const { value: project } of this.deps.views.projects.scan("", r.pace)) {
      for (const id of project.accounts) {
        const key = Store.accountKey(project.project_id, id);
        if (known.has(id) || !r.stuck(`reserved:${key}`, "")) continue;
        await r.attempt("released", { account: id, project: project.project_id }, () => this.release(project.project_id, id));
      }
    }
  }

  /**
   * Frees a project's place held for an account that has no record (checked again, in KV). A
   * create that was only slow writes its record and then checks its place (create.ts keepPlace);
   * looking for the record again after the release, one of the two always sees the other.
   */
  private async release(project: string, id: string): Promise<void> {
    const key = Store.accountKey(project, id);
    if (await this.deps.store.accounts.get(key)) return;
    await releasePlace(this.deps.store, project, id);
    if (!(await this.deps.store.accounts.get(key))) return;
    await this.deps.store.projects.modify(project, (cur) =>
      cur && !cur.value.accounts.includes(id) ? { ...cur.value, accounts: [...cur.value.accounts, id] } : null,
    );
    this.log.warn({ project, account: id }, "reconcile: a slow create's place was given back");
  }
}
