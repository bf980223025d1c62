export { accountLimits } from "./policy.ts";
export { readAccountUsage } from "./usage.ts";
export type { AccountUsage } from "./usage.ts";
export { QuotaMonitor, quotaLevel } from "./monitor.ts";
export type { QuotaEvent } from "./monitor.ts";
