import { join } from "node:path";
import type { ServerCertificate } from "./check.ts";

/** The names every self-signed server certificate carries. */
export const DEFAULT_NAMES = ["localhost", "127.0.0.1", "::1"];

/** `<data dir>/tls`: the private CA and the server certificate of MNQ_TLS=self-signed. */
export function selfSignedFiles(dataDir: string): ServerCertificate & { caFile: string; caKeyFile: string } {
  const dir = join(dataDir, "tls");
  return {
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server-key.pem"),
    caFile: join(dir, "ca.pem"),
    caKeyFile: join(dir, "ca-key.pem"),
  };
}

