import type { Logger } from "../log.ts";
import type { Store } from "../store/index.ts";
import type { AccountPublisher } from "./accounts.ts";
import { type TeardownDeps, teardownAccount } from "./teardown.ts";

export interface ReconcileReport {
  pushed: number;
  reissued: number;
  deleted: number;
  failed: number;
}

/**
 * KV is the source of truth: every active account's JWT is pushed to the resolvers (re-issued
 * first when the quota policy changed), and deletes left half-done are completed.
 */
export async function reconcileAccounts(
  deps: TeardownDeps & { store: Store; publisher: AccountPublisher },
  log: Logger,
): Promise<ReconcileReport> {
  const report: ReconcileReport = { pushed: 0, reissued: 0, deleted: 0, failed: 0 };
  const records = await deps.store.accounts.list(">");
  for (const rec of records) {
    const { project_id: project, id } = rec.value;
    try {
      if (rec.value.state === "deleting") {
        await teardownAccount(deps, project, id);
        report.deleted++;
      } else if (deps.publisher.isStale(rec.value)) {
        await deps.publisher.change(project, id, () => ({}));
        report.reissued++;
      } else {
        await deps.publisher.publish(rec);
        report.pushed++;
      }
    } catch (err) {
      report.failed++;
      log.warn({ account: id, project, err: String(err) }, "reconcile: account not brought in line; will retry");
    }
  }
  return report;
}

