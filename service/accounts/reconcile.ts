import type { Logger } from "../log.ts";
import { Rounds } from "../rounds.ts";
import { Pacer, Store, type StoreViews } from "../store/index.ts";
import type { AccountPublisher } from "./publisher.ts";
import type { ResolverClient } from "../resolver/index.ts";
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
  failed: number;
}

export interface ReconcileDeps extends TeardownDeps {
  store: Store;
  publisher: AccountPublisher;
  resolver: ResolverClient;
  views: Pick<StoreViews, "accounts" | "projects" | "credentials">;
  /** Accounts of the operator that no record describes: MNQ and SYS. */
  systemAccounts: readonly string[];
}

/**
 * Keeps the resolvers and the records in line with KV, the source of truth. Every instance runs
 * it: at start-up, then every `intervalMs`; every step is safe to run twice or concurrently.
 *
 * - an active account a resolver lacks (or every one, at start-up) is pushed again;
 * - a `deleting` record is torn down to the end;
 * - a `creating` record, an api-clients account its project never claimed, a project place with no
 *   record, and a JWT on a resolver with no record are each the trace of a create that died: they
 *   are undone once seen unchanged in two rounds in a row (a create in progress changes within
 *   one round), so a live create on another instance is not taken for a dead one.
 */
export class Reconciler {
  /** What looked half-done in the last round: mark → fingerprint. */
  #suspects = new Map<string, string>();
  readonly #rounds: Rounds;

  constructor(
    private readonly deps: ReconcileDeps,
    private readonly log: Logger,
    intervalMs: number,
  ) {
    this.#rounds = new Rounds(
      intervalMs,
      async () => this.report(await this.round(false)),
      (err) => this.log.warn({ err: String(err) }, "reconcile: round failed; the next round retries"),
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
    const { pushed, reissued, deleted, rolledBack, released, orphans, failed } = r;
    if (pushed + reissued + deleted + rolledBack + released + orphans + failed > 0) {
      this.log.info(r, "reconcile: resolvers and records brought in line with KV");
    }
  }

  /**
   * One pass: push every active account a resolver lacks (it may have lost its directory), re-issue
   * stale JWTs. `startup`: finish deletes at once (the instance that began them is gone, or resumes
   * them itself).
   */
  async round(startup: boolean): Promise<ReconcileReport> {
    const { views, resolver, publisher } = this.deps;
    const report: ReconcileReport = { pushed: 0, reissued: 0, deleted: 0, rolledBack: 0, released: 0, orphans: 0, failed: 0 };
    const resolvers = await resolver.listClaims();
    const suspects = new Map<string, string>();
    // True when the same thing looked half-done, unchanged, in the previous round too.
    const stuck = (mark: string, fingerprint: string) => {
      suspects.set(mark, fingerprint);
      return this.#suspects.get(mark) === fingerprint;
    };
    const attempt = async (what: keyof ReconcileReport, ctx: Record<string, string>, step: () => Promise<unknown>) => {
      try {
        await step();
        report[what]++;
      } catch (err) {
        report.failed++;
        this.log.warn({ ...ctx, err: String(err) }, `reconcile: ${what} not done; will retry`);
      }
    };

    // a round at start-up brings resolvers back at once; later ones give way to the traffic
    const pace = startup ? undefined : new Pacer().pace;
    const known = new Set<string>(this.deps.systemAccounts);
    const recorded = new Set<string>();
    // a walk over KV in batches (any replica answers): nothing of the fleet is held for it
    for await (const { value: rec } of views.accounts.scan("", pace)) {
      const { project_id: project, id } = rec;
      const key = Store.accountKey(project, id);
      const ctx = { account: id, project };
      known.add(id);
      recorded.add(key);
      if (rec.state === "deleting") {
        if (startup || stuck(`deleting:${key}`, rec.updated_at)) await attempt("deleted", ctx, () => teardownAccount(this.deps, project, id));
      } else if (rec.state === "creating") {
        if (stuck(`creating:${key}`, rec.updated_at)) {
          await attempt("rolledBack", ctx, () => teardownAccount(this.deps, project, id, { rollback: true }));
        }
      } else if (rec.kind === "api-clients" && (await views.projects.get(project))?.client_account !== id) {
        if (stuck(`unclaimed:${key}`, rec.updated_at)) await attempt("rolledBack", ctx, () => teardownAccount(this.deps, project, id));
      } else if (publisher.isStale(rec)) {
        await attempt("reissued", ctx, () => publisher.change(project, id, () => ({})));
      } else if (resolvers.some((held) => !held.has(id))) {
        // only where a resolver lacks it: pushing every account at every start would cost each
        // instance's start a round per account of the fleet (minutes at tens of thousands)
        const current = await this.deps.store.accounts.get(key);
        if (current?.value.state === "active") await attempt("pushed", ctx, () => publisher.publish(current));
      }
    }

    for (const held of resolvers) {
      for (const id of held) {
        if (known.has(id) || !stuck(`orphan:${id}`, "")) continue;
        known.add(id); // one delete reaches every resolver
        await attempt("orphans", { account: id }, () => resolver.delete([id]));
      }
    }

    for await (const { value: project } of views.projects.scan("", pace)) {
      for (const id of project.accounts) {
        const key = Store.accountKey(project.project_id, id);
        if (recorded.has(key) || !stuck(`reserved:${key}`, "")) continue;
        await attempt("released", { account: id, project: project.project_id }, () => this.release(project.project_id, id));
      }
    }
    this.#suspects = suspects;
    return report;
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
