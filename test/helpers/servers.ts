import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrap, type BootstrapOptions, nodeConf } from "../../service/bootstrap/index.ts";
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
export async function startNode(dataDir: string, name = "n1", extra = ""): Promise<RunningServer> {
  const conf = join(dataDir, "server", `${name}.conf`);
  writeFileSync(
    conf,
    [`server_name: ${name}`, 'listen: "127.0.0.1:-1"', "max_control_line: 8KB", 'include "./embedded.conf"', extra, ""].join("\n"),
  );
  return startNatsServer({ bin: natsServerBin(), configFile: conf });
}

export interface Cluster {
  readonly nodes: RunningServer[];
  readonly urls: string[];
  /** Restarts node i (after a kill) with the same config and directories. */
  restart(i: number): Promise<RunningServer>;
  stop(): Promise<void>;
}

/** A 3-node JetStream cluster sharing one bootstrap; each node has its own resolver and store dirs. */
export async function startCluster(dataDir: string, size = 3): Promise<Cluster> {
  const routes = await Promise.all(Array.from({ length: size }, () => freePort()));
  const confs = routes.map((port, i) => {
    const name = `c${i + 1}`;
    const conf = join(dataDir, "server", `${name}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        'listen: "127.0.0.1:-1"',
        "max_control_line: 8KB",
        nodeConf(join(dataDir, `resolver-${name}`), join(dataDir, `jetstream-${name}`)),
        "cluster {",
        "  name: mnq-test",
        `  listen: "127.0.0.1:${port}"`,
        `  routes: [${routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(", ")}]`,
        "}",
        "",
      ].join("\n"),
    );
    return conf;
  });
  const nodes = await Promise.all(confs.map((configFile) => startNatsServer({ bin: natsServerBin(), configFile })));
  return {
    nodes,
    get urls() {
      return nodes.map((n) => n.url);
    },
    async restart(i: number) {
      nodes[i] = await startNatsServer({ bin: natsServerBin(), configFile: confs[i]! });
      return nodes[i]!;
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
