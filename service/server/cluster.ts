import { copyFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { DataFile, readDataFile, writeSecretFile } from "../bootstrap/index.ts";
import { clientTlsBlock, routeTlsBlock, type ServerCertificate } from "../tls/index.ts";
import { projectRoot, type RunningServer, startNatsServer } from "./launcher.ts";

/** The node configs of deploy/cluster: n1.conf … n3.conf. */
export const CLUSTER_SIZE = 3;
const CLUSTER_DIR = join(projectRoot, "deploy", "cluster");

export interface ClusterOptions {
  /** The bootstrapped data dir the nodes share (trust.conf; each node's resolver and store under it). */
  dataDir: string;
  /** nats-server binary. */
  bin?: string;
  /** Client ports instead of the files' 4222-4224 (-1: any free port). */
  clientPorts?: number[];
  /** Route ports instead of the files' 6222-6224. */
  routePorts?: number[];
  /**
   * A cluster name instead of the files' `mnq`. Routes are accepted from any server of the same
   * name: two clusters on one machine, one of them retrying a route to a port the other now holds
   * (a node stopped, its port taken), would otherwise become one.
   */
  clusterName?: string;
  /** "inherit" shows the servers' logs. */
  stdio?: "inherit" | "pipe";
  /** The nodes' certificate: client ports and routes then take TLS only (routes verify each other with its CA). */
  tls?: ServerCertificate;
}

export interface ClusterNodes {
  readonly nodes: RunningServer[];
  /** The client URLs: `tls://` when the client ports take TLS only. */
  readonly urls: string[];
  /** Starts node i again (after a kill) with the same config and directories. */
  restart(i: number): Promise<RunningServer>;
  stop(): Promise<void>;
}

/**
 * Runs the 3-node cluster of deploy/cluster on one machine: the node configs are copied beside the
 * data dir's trust.conf and run with the data dir as working directory.
 */
export async function startClusterNodes(opts: ClusterOptions): Promise<ClusterNodes> {
  const names = Array.from({ length: CLUSTER_SIZE }, (_, i) => `n${i + 1}`);
  const confs = names.map((name) => {
    const conf = join(opts.dataDir, "server", `${name}.conf`);
    copyFileSync(join(CLUSTER_DIR, `${name}.conf`), conf);
    chmodSync(conf, 0o600);
    return conf;
  });
  const args = (i: number) => [
    ...(opts.clientPorts ? ["-p", String(opts.clientPorts[i])] : []),
    ...(opts.routePorts
      ? [
          "--cluster",
          `nats://127.0.0.1:${opts.routePorts[i]}`,
          "--routes",
          opts.routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(","),
        ]
      : []),
    ...(opts.clusterName ? ["--cluster_name", opts.clusterName] : []),
  ];
  writeClusterTls(opts.dataDir, opts.tls);
  const start = (i: number) => startNatsServer({ bin: opts.bin, configFile: confs[i]!, args: args(i), cwd: opts.dataDir, stdio: opts.stdio });
  const nodes = await Promise.all(confs.map((_, i) => start(i)));
  return {
    nodes,
    get urls() {
      return nodes.map((n) => (opts.tls ? n.url.replace(/^nats:/, "tls:") : n.url));
    },
    async restart(i: number) {
      nodes[i] = await start(i);
      return nodes[i]!;
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

/**
 * The nodes' TLS includes, beside the node configs that include them: tls {} blocks for the
 * client port and the routes, or (without a certificate) none, which leaves both plaintext.
 */
export function writeClusterTls(dataDir: string, tls: ServerCertificate | undefined): void {
  writeSecretFile(join(dataDir, DataFile.clientTlsConf), tls ? clientTlsBlock(tls) : "# plaintext client port (no tls block)\n");
  writeSecretFile(join(dataDir, DataFile.routeTlsConf), tls ? routeTlsBlock(tls) : "# plaintext routes (no tls block)\n");
}

/** Waits until JetStream answers the service user (the cluster has elected its meta leader). */
export async function waitForJetStream(dataDir: string, servers: string[], timeoutMs = 20_000, tls: { tls?: { caFile: string } } = {}): Promise<void> {
  const creds = new TextEncoder().encode(readDataFile(dataDir, DataFile.serviceCreds, true));
  const nc = await connect({ servers, authenticator: credsAuthenticator(creds), inboxPrefix: "_MNQ_INBOX", ...tls });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await (await jetstreamManager(nc)).getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`JetStream did not become ready within ${timeoutMs} ms: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await nc.close();
  }
}
