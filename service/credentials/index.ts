export { buildCredentials } from "./build.ts";
export type { BuiltCredentials, CredentialsSpec } from "./build.ts";
