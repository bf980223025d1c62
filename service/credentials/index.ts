export { buildCredentials } from "./build.ts";
export { removeCredentials } from "./remove.ts";
export { Credentials } from "./credentials.ts";
export type { CredentialAccounts, CredentialsDeps } from "./credentials.ts";
