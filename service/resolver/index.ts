export { ResolverClient } from "./client.ts";
export { ConnectionTable } from "./connections.ts";
export type { ConnectionRef } from "./connections.ts";
