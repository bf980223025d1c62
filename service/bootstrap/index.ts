export { ADMIN_PUBLISH, ADMIN_SUBSCRIBE, bootstrap } from "./bootstrap.ts";
export type { BootstrapOptions } from "./bootstrap.ts";
export { DataFile, readDataFile, writeSecretFile } from "./files.ts";
export { loadTrust } from "./trust.ts";
export type { Trust } from "./trust.ts";
