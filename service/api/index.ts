export { parseBody, SERVICE_NAME, projectEndpoints, startApiService } from "./service.ts";
export type { ApiContext } from "./context.ts";
export type { NatsAccount } from "./nats-accounts.ts";
export type { NatsCredentials } from "./nats-credentials.ts";
export { paginate } from "./paging.ts";
export { ensureAdminApiKeyFile } from "./api-keys.ts";
export type { ApiKey } from "./api-keys.ts";
