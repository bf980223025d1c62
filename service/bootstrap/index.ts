export { ADMIN_PUBLISH, ADMIN_SUBSCRIBE, bootstrap, MNQ_EXPORTS, nodeConf } from "./bootstrap.ts";
export type { BootstrapOptions, BootstrapResult } from "./bootstrap.ts";
export { DataFile, dataFileExists, ensureDir, readDataFile, writeSecretFile } from "./files.ts";
export { loadTrust } from "./trust.ts";
export type { Trust } from "./trust.ts";
