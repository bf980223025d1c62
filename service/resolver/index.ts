export { ResolverClient } from "./client.ts";
export { ConnectionTable } from "./connections.ts";
