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
  /** Every server that answered a ping, with its version. */
  servers: { name: string; version: string }[];
}

export async function serviceStatus(ctx: ApiContext): Promise<ServiceStatus> {
  const [counts, servers] = await Promise.all([ctx.counts.current(), ctx.servers()]);
  return { version: ctx.version, region: ctx.cfg.region, endpoint: ctx.cfg.endpoint, ...counts, servers };
}
