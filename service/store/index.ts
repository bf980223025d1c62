export { RecordBucket } from "./bucket.ts";
export type { Versioned } from "./bucket.ts";
export { BucketName, Store } from "./store.ts";
export type { StoreOptions } from "./store.ts";
export type {
  AccountRecord,
  ApiKeyRecord,
  CredentialKeyRecord,
  CredentialsRecord,
  ProjectRecord,
  QuotaStateRecord,
  SessionRecord,
} from "./records.ts";
export { ADMIN_PROJECT } from "./records.ts";
export { RecordView } from "./view.ts";
