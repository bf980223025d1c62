import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Names of the files bootstrap writes under the data dir. */
export const DataFile = {
  operatorSeed: "keys/operator.nk",
  operatorSigningSeed: "keys/operator-signing.nk",
  sysSeed: "keys/sys.nk",
  sysSigningSeed: "keys/sys-signing.nk",
  mnqSeed: "keys/mnq.nk",
  mnqSigningSeed: "keys/mnq-signing.nk",
  xkeySeed: "keys/xkey.nk",
  masterKey: "master.key",
  operatorJwt: "jwt/operator.jwt",
  sysJwt: "jwt/sys.jwt",
  mnqJwt: "jwt/mnq.jwt",
  sentinelJwt: "jwt/sentinel.jwt",
  sysCreds: "sys.creds",
  serviceCreds: "service.creds",
  adminCreds: "admin.creds",
  adminApiKey: "admin-api-key.json",
  trustConf: "server/trust.conf",
  embeddedConf: "server/embedded.conf",
  /** The cluster nodes' client-port TLS include (deploy/cluster/n*.conf): a tls {} block, or none. */
  clientTlsConf: "server/tls.conf",
  /** The cluster nodes' route TLS include (inside cluster {}). */
  routeTlsConf: "server/cluster-tls.conf",
  resolverDir: "resolver",
  jetstreamDir: "jetstream",
} as const;
export type DataFile = (typeof DataFile)[keyof typeof DataFile];

/** Creates the data dir (and a subdirectory) with mode 0700. */
export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
}

/** Writes a file atomically with mode 0600 (temp file + rename). */
export function writeSecretFile(path: string, content: string): void {
  ensureDir(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Reads a data file; trimmed unless `raw` (creds files need their final newline). */
export function readDataFile(dataDir: string, file: DataFile, raw = false): string {
  const text = readFileSync(join(dataDir, file), "utf8");
  return raw ? text : text.trim();
}

export function dataFileExists(dataDir: string, file: DataFile): boolean {
  return existsSync(join(dataDir, file));
}
