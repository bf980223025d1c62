export { RecordBucket } from "./bucket.ts";
export type { Versioned } from "./bucket.ts";
export { apiKeyProject, BucketName, Store } from "./store.ts";
export type { StoreOptions } from "./store.ts";
export type {
  AccountOwnerRecord,
  AccountRecord,
  ApiKeyRecord,
  CredentialKeyRecord,
  CredentialsRecord,
  ProjectRecord,
  QuotaStateRecord,
} from "./records.ts";
export { ADMIN_PROJECT } from "./records.ts";
export { accountGroup, DEFAULT_CACHE_BYTES, openViews, projectGroup, RecordView, VIEWED_BUCKETS } from "./view.ts";
export type { OpenedViews, StoreViews } from "./view.ts";
export { ResetReason } from "./feed.ts";
export { FleetCounter } from "./fleet-counts.ts";
export type { FleetCounts } from "./fleet-counts.ts";
export { CacheBudget } from "./cache-budget.ts";
