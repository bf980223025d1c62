export { ResolverClient } from "./client.ts";
export { AccountPublisher } from "./accounts.ts";
export { reconcileAccounts } from "./reconcile.ts";
export type { ReconcileReport } from "./reconcile.ts";
export { teardownAccount } from "./teardown.ts";
export type { TeardownDeps } from "./teardown.ts";
