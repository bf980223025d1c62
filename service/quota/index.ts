export { accountLimits } from "./policy.ts";
export { readAccountUsage, readAllStorage } from "./usage.ts";
export type { AccountUsage } from "./usage.ts";
export { QuotaMonitor, quotaLevel } from "./monitor.ts";
export type { QuotaEvent } from "./monitor.ts";
