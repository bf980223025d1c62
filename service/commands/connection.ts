import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { DataFile } from "../bootstrap/files.ts";
import type { Config } from "../config/index.ts";
import { clientTls, madeCaFile } from "../tls/index.ts";

/** A failure to show the user as one line (exit 1); never carries a secret. */
export class CliError extends Error {}

/** How the API commands reach mnq: `--server`, then `--creds FILE` or `--api-key FILE` (JSON). */
export interface ConnectionFlags {
  server?: string;
  creds?: string;
  "api-key"?: string;
}

export const CONNECTION_HELP = `Connection (API commands):
  --server URL        NATS URL [MNQ_NATS_URL, else nats://127.0.0.1:MNQ_NATS_PORT]; servers are
                      verified with MNQ_TLS_CA (or the MNQ_TLS=self-signed CA) when TLS is on
  --api-key FILE      a JSON file {access_key, secret_key} [MNQ_DATA_DIR/admin-api-key.json]
  --creds FILE        a credentials file instead (e.g. MNQ_DATA_DIR/admin.creds)
  --json              print JSON instead of a table`;

export async function connectApi(cfg: Readonly<Config>, flags: ConnectionFlags): Promise<NatsConnection> {
  const servers = flags.server?.split(",") ?? cfg.natsServers ?? [`nats://127.0.0.1:${cfg.natsPort}`];
  const auth = authOptions(cfg, flags);
  const opts = { servers, name: "mnq-cli", reconnect: false, timeout: 5000, ...auth };
  try {
    const made = madeCaFile(cfg);
    if (made === undefined) return await connect({ ...opts, ...clientTls(cfg) });
    // a CA an earlier start made here: used when the server takes TLS, left out when it does not
    return await connect({ ...opts, tls: { caFile: made } }).catch((err: unknown) => {
      if (/does not support 'tls'/.test(String(err))) return connect(opts);
      throw err;
    });
  } catch (err) {
    throw new CliError(`cannot connect to ${servers.join(",")}: ${(err as Error).message}`);
  }
}

function authOptions(cfg: Readonly<Config>, flags: ConnectionFlags) {
  if (flags.creds) return { authenticator: credsAuthenticator(readFileSync(readable(flags.creds))) };
  const keyFile = flags["api-key"] ?? join(cfg.dataDir, DataFile.adminApiKey);
  if (!existsSync(keyFile)) {
    throw new CliError(`no API key file at ${keyFile}: pass --api-key FILE or --creds FILE (or run 'mnq start' once)`);
  }
  let key: { access_key?: unknown; secret_key?: unknown };
  try {
    key = JSON.parse(readFileSync(keyFile, "utf8")) as typeof key;
  } catch {
    throw new CliError(`${keyFile} is not a JSON API key file`);
  }
  if (typeof key.access_key !== "string" || typeof key.secret_key !== "string") {
    throw new CliError(`${keyFile} has no access_key and secret_key`);
  }
  return { user: key.access_key, pass: key.secret_key };
}

function readable(file: string): string {
  if (!existsSync(file)) throw new CliError(`no such file: ${file}`);
  return file;
}

/** ` in project P` for a project's subject, else nothing. */
function projectOf(subject: string): string {
  const p = /^mnq\.api\.v1\.([^.]+)\./.exec(subject)?.[1];
  return p ? ` in project ${p}` : "";
}

/** One API call: the reply body, or CliError with the API's status and message. */
export async function callApi<T>(nc: NatsConnection, subject: string, body: object): Promise<T> {
  let m;
  try {
    m = await nc.request(subject, JSON.stringify(body), { timeout: 10_000 });
  } catch (err) {
    const why = (err as Error).message;
    throw new CliError(/no responders/i.test(why) ? `nothing answers ${subject}: is mnq running, and may this key call it?` : `${subject}: ${why}`);
  }
  const code = m.headers?.get("Nats-Service-Error-Code");
  if (code) {
    let detail = m.headers?.get("Nats-Service-Error") ?? "";
    try {
      const b = m.json<{ message?: string; details?: { argument_name?: string; help_message?: string }[]; resource?: string; resource_id?: string }>();
      const args = b.details?.filter((d) => d.argument_name !== undefined) ?? [];
      // the help message names its argument already
      if (args.length) detail = args.map((d) => d.help_message ?? d.argument_name).join("; ");
      // a 403 says which action on what the key may not do
      else if (code === "403" && b.message) detail = `${b.message} (the API key's role or accounts do not allow it)`;
      // a 404 names what was not found, and where
      else if (code === "404" && b.resource) detail = `${b.resource.replace(/_/g, " ")} ${b.resource_id ?? ""} not found${projectOf(subject)}`.replace(/ {2,}/g, " ");
    } catch {
      // the headers say enough
    }
    throw new CliError(`${code} ${detail}`);
  }
  return m.json<T>();
}
