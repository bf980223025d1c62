import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { bootstrap, type BootstrapOptions } from "../../service/bootstrap/index.ts";
import { CLUSTER_SIZE, type ClusterNodes, startClusterNodes } from "../../service/server/cluster.ts";
import { findNatsServer, type RunningServer, startNatsServer } from "../../service/server/launcher.ts";

let bin: string | undefined;
/** The nats-server binary (found once; a clear error when there is none). */
export function natsServerBin(): string {
  bin ??= findNatsServer();
  return bin;
}

/** A fresh, bootstrapped data dir in a temporary directory. */
export function freshDataDir(opts: BootstrapOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "mnq-test-"));
  bootstrap(dir, opts);
  return dir;
}

/** A free loopback TCP port (for cluster routes, which need to be known in advance). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** One nats-server on 127.0.0.1 (random port) serving a data dir's trust chain. */
export async function startNode(dataDir: string, name = "n1", extra = "", timeoutMs?: number): Promise<RunningServer> {
  const conf = join(dataDir, "server", `${name}.conf`);
  writeFileSync(
    conf,
    [`server_name: ${name}`, 'listen: "127.0.0.1:-1"', "max_control_line: 8KB", 'include "./embedded.conf"', extra, ""].join("\n"),
  );
  return startNatsServer({ bin: natsServerBin(), configFile: conf, ...(timeoutMs ? { timeoutMs } : {}) });
}

export type Cluster = ClusterNodes;

/**
 * The 3-node cluster of deploy/cluster (the very files), on free loopback ports, sharing one
 * bootstrap; each node has its own resolver and store under the data dir. Its cluster name is its
 * own (the data dir's): suites run side by side, and a suite's node killed leaves its route port
 * free for another suite's cluster, to which its peers' routes would then connect.
 */
export async function startCluster(dataDir: string, ports?: number[]): Promise<Cluster> {
  const routePorts = ports ?? (await Promise.all(Array.from({ length: CLUSTER_SIZE }, () => freePort())));
  return startClusterNodes({ dataDir, bin: natsServerBin(), clientPorts: routePorts.map(() => -1), routePorts, clusterName: `mnq-${basename(dataDir)}` });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
