import { existsSync } from "node:fs";
import type { Config } from "../config/index.ts";
import { checkServerCertificate, readCertificates, type ServerCertificate } from "./check.ts";
import { selfSignedFiles } from "./files.ts";

export { TlsSettingError } from "./check.ts";
export type { ServerCertificate } from "./check.ts";

/** Where mnq's own servers listen for clients (embedded and `mnq cluster`). */
export const LISTEN_HOST = "127.0.0.1";

/**
 * The server certificate of the servers mnq starts: MNQ_TLS_CERT/KEY (checked), or the generated
 * one of MNQ_TLS=self-signed (made or reused, then checked); undefined for plaintext. Throws
 * TlsSettingError naming the setting when a file cannot serve.
 */
export async function serverCertificate(cfg: Readonly<Config>, hosts: readonly string[] = [LISTEN_HOST]): Promise<ServerCertificate | undefined> {
  const { tlsCert, tlsKey, tlsCa, tlsMode, tlsNames } = cfg.tls;
  let files: ServerCertificate;
  // the certificate library is loaded only to make certificates (it is large)
  if (tlsMode === "self-signed") files = await (await import("./self-signed.ts")).ensureSelfSigned(cfg.dataDir, tlsNames?.split(",") ?? []);
  else if (tlsCert !== undefined && tlsKey !== undefined) files = { certFile: tlsCert, keyFile: tlsKey, caFile: tlsCa };
  else return undefined;
  checkServerCertificate(files, hosts);
  return files;
}

/** The hosts of MNQ_NATS_URL (the names instances dial), else the embedded listen host. */
export function dialedHosts(cfg: Readonly<Config>): string[] {
  return cfg.natsServers?.map((u) => new URL(u).hostname.replace(/^\[|\]$/g, "")) ?? [LISTEN_HOST];
}

/** The CA bundle mnq's clients verify servers with: MNQ_TLS_CA, else the self-signed CA, else the system's. */
export function clientCaFile(cfg: Readonly<Pick<Config, "tls" | "dataDir">>): string | undefined {
  if (cfg.tls.tlsCa !== undefined) return cfg.tls.tlsCa;
  if (cfg.tls.tlsMode === "self-signed") return selfSignedFiles(cfg.dataDir).caFile;
  return undefined;
}

/**
 * For the mnq commands run without any TLS setting: the self-signed CA a start made in the data dir,
 * if there is one (so `mnq status` works beside `MNQ_TLS=self-signed npm start` without repeating it).
 */
export function madeCaFile(cfg: Readonly<Pick<Config, "tls" | "dataDir">>): string | undefined {
  if (cfg.tls.tlsCa !== undefined || cfg.tls.tlsMode !== undefined) return undefined;
  const own = selfSignedFiles(cfg.dataDir).caFile;
  return existsSync(own) ? own : undefined;
}

/** nats.js connect options for that CA (none: plaintext, or the system's trust store). */
export function clientTls(cfg: Readonly<Pick<Config, "tls" | "dataDir">>): { tls?: { caFile: string } } {
  const caFile = clientCaFile(cfg);
  return caFile === undefined ? {} : { tls: { caFile } };
}

/**
 * Checks the TLS settings before anything starts: MNQ_TLS_CA, and the certificate of the servers
 * mnq starts, for `hosts` (null: mnq starts none). TlsSettingError naming the setting otherwise.
 */
export async function checkedTls(cfg: Readonly<Config>, hosts: readonly string[] | null = [LISTEN_HOST]): Promise<ServerCertificate | undefined> {
  checkClientCa(cfg);
  return hosts === null ? undefined : serverCertificate(cfg, hosts);
}

/** Checks that MNQ_TLS_CA (when set) is a readable PEM certificate bundle. */
export function checkClientCa(cfg: Readonly<Config>): void {
  if (cfg.tls.tlsCa !== undefined) readCertificates("MNQ_TLS_CA", cfg.tls.tlsCa);
}

/** A nats-server `tls {}` block presenting the certificate (indented by `indent` spaces); `ca`: verify peers with its CA. */
function tlsBlock(files: ServerCertificate, opts: { ca?: boolean; timeout?: boolean; indent?: number } = {}): string {
  const pad = " ".repeat(opts.indent ?? 0);
  const lines = [
    `cert_file: ${JSON.stringify(files.certFile)}`,
    `key_file: ${JSON.stringify(files.keyFile)}`,
    ...(opts.ca && files.caFile ? [`ca_file: ${JSON.stringify(files.caFile)}`] : []),
    ...(opts.timeout ? ["timeout: 2"] : []),
  ];
  return `${pad}tls {\n${lines.map((l) => `${pad}  ${l}\n`).join("")}${pad}}\n`;
}

/** nats-server config for the client port's TLS: only TLS clients are served. */
export function clientTlsBlock(files: ServerCertificate): string {
  return tlsBlock(files, { timeout: true });
}

/**
 * nats-server config of the routes' TLS (inside `cluster {}`): each node presents the certificate
 * and verifies its peers' with the CA (MNQ_TLS_CA or the self-signed CA; else the system's).
 */
export function routeTlsBlock(files: ServerCertificate): string {
  return tlsBlock(files, { ca: true, timeout: true });
}

/** nats-server config of a WebSocket listener on `host:port`: TLS with the certificate, else plaintext. */
export function websocketBlock(host: string, port: number, files: ServerCertificate | undefined): string {
  const tls = files ? tlsBlock(files, { indent: 2 }) : "  no_tls: true\n";
  return `websocket {\n  host: ${JSON.stringify(host)}\n  port: ${port}\n${tls}}\n`;
}
