export { SERVICE_NAME, startApiService } from "./service.ts";
export type { ApiContext } from "./context.ts";
export { paginate } from "./paging.ts";
export { ensureAdminApiKeyFile } from "./api-keys.ts";
