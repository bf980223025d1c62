export { Accounts } from "./accounts.ts";
export type { AccountsDeps } from "./accounts.ts";
export type { ReconcileReport } from "./reconcile.ts";
export { listDue } from "./reconcile.ts";
export { noJetStream } from "./teardown.ts";
