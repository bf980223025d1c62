export { apiKeyRecord, ApiKeys } from "./api-keys.ts";
export type { ApiKeysDeps, KeyAccounts } from "./api-keys.ts";
