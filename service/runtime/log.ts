import { pino, type Logger } from "pino";

export type { Logger };

/** Field names that may carry a secret, at any depth up to two levels; pino replaces them. */
const SECRET_FIELDS = ["seed", "seeds", "secret", "secret_key", "password", "pass", "creds", "content", "master_key", "jwt", "sig", "private_key"];
const redactPaths = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

/** The service's structured logger (JSON lines on stderr), secrets redacted. */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      name: "mnq",
      level,
      redact: { paths: redactPaths, censor: "[redacted]" },
      base: { pid: process.pid },
    },
    destination as pino.DestinationStream,
  );
}
