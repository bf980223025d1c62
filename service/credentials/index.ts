export { buildCredentials } from "./build.ts";
export type { BuiltCredentials, CredentialsSpec } from "./build.ts";
export { removeCredentials } from "./remove.ts";
export { checkRevocationRoom } from "./bound.ts";
