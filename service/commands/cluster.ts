import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { bootstrap } from "../bootstrap/index.ts";
import type { Config } from "../config/index.ts";
import { type ClusterNodes, startClusterNodes, waitForJetStream } from "../server/cluster.ts";
import { type RunningInstance, startInstance } from "../server/instance.ts";
import { findNatsServer } from "../server/launcher.ts";
import { checkedTls, clientTls } from "../tls/index.ts";
import { CliError } from "./connection.ts";
import { CLUSTER_HELP } from "./help.ts";


/** Where `mnq cluster` keeps its keys and stores when MNQ_DATA_DIR is not set (`npm start` keeps .mnq). */
export const CLUSTER_DATA_DIR = ".mnq-cluster";

/**
 * The cluster's configuration: a store of its own unless MNQ_DATA_DIR says otherwise (`npm start`'s
 * embedded server keeps other accounts and another admin key in .mnq, and each would overwrite the
 * other's key file).
 */
export function clusterConfig(given: Readonly<Config>, env: NodeJS.ProcessEnv): Readonly<Config> {
  return env.MNQ_DATA_DIR ? given : { ...given, dataDir: resolve(CLUSTER_DATA_DIR) };
}

/** Three distinct ports from a comma list, else a CliError naming the flag. */
function ports(flag: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(",").map(Number);
  if (list.length !== 3 || new Set(list).size !== 3 || !list.every((p) => Number.isInteger(p) && p > 0 && p < 65536)) {
    throw new CliError(`--${flag} must be three distinct ports, e.g. 4222,4223,4224\n${CLUSTER_HELP}`);
  }
  return list;
}

/** `mnq cluster`: the deploy/cluster nodes plus N instances in the foreground until a signal. */
export async function runCluster(given: Readonly<Config>, argv: string[]): Promise<void> {
  const cfg = clusterConfig(given, process.env);
  let values: { instances: string; "client-ports"?: string; "route-ports"?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: { instances: { type: "string", default: "2" }, "client-ports": { type: "string" }, "route-ports": { type: "string" } },
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${CLUSTER_HELP}`);
  }
  const instances = Number(values.instances);
  const clientPorts = ports("client-ports", values["client-ports"]);
  const routePorts = ports("route-ports", values["route-ports"]);
  if (!Number.isInteger(instances) || instances < 1 || instances > 8) throw new CliError(`--instances must be 1-8\n${CLUSTER_HELP}`);
  if (cfg.natsUrl) throw new CliError("mnq cluster runs its own nodes: unset MNQ_NATS_URL");

  bootstrap(cfg.dataDir);
  const tls = await checkedTls(cfg);
  let bin: string;
  try {
    bin = findNatsServer();
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  let nodes: ClusterNodes;
  try {
    nodes = await startClusterNodes({ dataDir: cfg.dataDir, bin, clientPorts, routePorts, tls });
  } catch (err) {
    const used = `${clientPorts?.join(",") ?? "4222-4224"} and ${routePorts?.join(",") ?? "6222-6224"}`;
    throw new CliError(`the cluster did not start (are ports ${used} free?): ${(err as Error).message}`);
  }
  const running: RunningInstance[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("mnq cluster: stopping the instances, then the nodes\n");
    await Promise.all(running.map((i) => i.stop()));
    await nodes.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  try {
    process.stdout.write(`mnq cluster: nodes ${nodes.urls.join(", ")}; waiting for JetStream\n`);
    await waitForJetStream(cfg.dataDir, nodes.urls, undefined, clientTls(cfg));
    const start = (n: number) =>
      startInstance({
        dataDir: cfg.dataDir,
        servers: nodes.urls,
        env: { MNQ_KV_REPLICAS: "3" },
        onLine: (line) => process.stdout.write(`[mnq-${n}] ${line}\n`),
      }).then((i) => {
        running.push(i);
        void i.exited.then(({ code, signal }) => {
          if (!stopping) process.stderr.write(`mnq cluster: instance ${n} (pid ${i.pid}) exited (${signal ?? code})\n`);
        });
        return i;
      });
    // The first instance makes the buckets and the admin API key; the others find them.
    await start(1);
    await Promise.all(Array.from({ length: instances - 1 }, (_, k) => start(k + 2)));
    process.stdout.write(
      `mnq cluster ready: ${instances} instance(s) (pids ${running.map((i) => i.pid).join(", ")}) on ${nodes.urls.join(",")}\n` +
        `  data dir ${cfg.dataDir}: the mnq commands use it with MNQ_DATA_DIR=${cfg.dataDir}\n` +
        `  MNQ_DATA_DIR=${cfg.dataDir} npm run mnq -- status --server ${nodes.urls[0]}\n`,
    );
  } catch (err) {
    await stop(1);
    throw new CliError((err as Error).message);
  }
}
