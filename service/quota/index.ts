export { accountLimits } from "./policy.ts";
export { mergeJsz, readAccountUsage, readAllStorage } from "./usage.ts";
export type { AccountJsz, AccountUsage } from "./usage.ts";
export { QuotaMonitor, quotaLevel } from "./monitor.ts";
export type { QuotaEvent, QuotaLevel, QuotaMonitorOptions } from "./monitor.ts";
