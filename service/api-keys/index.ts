export { apiKeyRecord, ApiKeys, keyScope, OWNER_SCOPE } from "./api-keys.ts";
export type { ApiKeysDeps, KeyAccounts, KeyScope } from "./api-keys.ts";
