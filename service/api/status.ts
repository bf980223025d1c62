import type { ApiContext } from "./context.ts";

/** `mnq.admin.v1.status`: the instance and the fleet's size (counted in KV, see FleetCounter). */
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
  return { version: ctx.version, region: ctx.cfg.region, endpoint: ctx.cfg.endpoint, ...(await ctx.counts.current()) };
}
