import type { ApiContext } from "./context.ts";

/** `mnq.admin.v1.status`: what this instance holds, read from its views (no round trip). */
export interface ServiceStatus {
  version: string;
  region: string;
  endpoint: string;
  projects: number;
  nats_accounts: number;
  nats_credentials: number;
  api_keys: number;
}

export async function serviceStatus(ctx: ApiContext): Promise<ServiceStatus> {
  const { views } = ctx;
  await Promise.all([views.accounts.sync(), views.credentials.sync()]);
  const accounts = views.accounts.values().filter((a) => a.state === "active" && !a.kind);
  return {
    version: ctx.version,
    region: ctx.cfg.region,
    endpoint: ctx.cfg.endpoint,
    projects: new Set(accounts.map((a) => a.project_id)).size,
    nats_accounts: accounts.length,
    nats_credentials: views.credentials.size,
    api_keys: views.apiKeys.size,
  };
}
