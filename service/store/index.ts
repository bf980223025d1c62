export { RecordBucket } from "./bucket.ts";
export type { Versioned } from "./bucket.ts";
export { BucketName, Store } from "./store.ts";
export type { StoreOptions } from "./store.ts";
export type { AccountRecord, CredentialsRecord, ProjectRecord } from "./records.ts";
