import { join } from "node:path";
import { bootstrap, DataFile } from "../bootstrap/index.ts";
import type { Config } from "../config/index.ts";
import { createLogger } from "../runtime/log.ts";
import { boundHeapGrowth, missingMemorySettings } from "../runtime/memory.ts";
import { writeClusterTls } from "../server/cluster.ts";
import { findNatsServer, type RunningServer } from "../server/launcher.ts";
import { checkedTls, clientCaFile, dialedHosts } from "../tls/index.ts";

function fail(message: string): never {
  process.stderr.write(`mnq: ${message}\n`);
  process.exit(1);
}

/** `mnq bootstrap`: the data dir's keys and server includes (and the cluster nodes' TLS includes). */
export async function runBootstrap(cfg: Readonly<Config>): Promise<void> {
  const r = bootstrap(cfg.dataDir);
  if (r.written.length === 0) {
    process.stdout.write(`mnq: ${cfg.dataDir} is already bootstrapped (operator ${r.operator})\n`);
  } else {
    process.stdout.write(`mnq: bootstrapped ${cfg.dataDir}: operator ${r.operator}, MNQ account ${r.mnqAccount}; wrote ${r.written.length} files\n`);
  }
  // With a certificate, the cluster nodes' TLS includes (deploy/cluster/n*.conf) are written too:
  // a cert checked against the hosts of MNQ_NATS_URL, where the instances reach the nodes.
  const tls = await checkedTls(cfg, dialedHosts(cfg));
  if (tls) {
    writeClusterTls(cfg.dataDir, tls);
    process.stdout.write(`mnq: the cluster nodes' client ports and routes take TLS (${DataFile.clientTlsConf}, ${DataFile.routeTlsConf})\n`);
  }
}

/** `mnq start`: bootstrap, the embedded nats-server (unless MNQ_NATS_URL), the service; Ctrl-C stops both. */
export async function runStart(cfg: Readonly<Config>): Promise<void> {
  const log = createLogger(cfg.logLevel);
  boundHeapGrowth();
  bootstrap(cfg.dataDir);
  let server: RunningServer | undefined;
  // the embedded server's certificate; with MNQ_NATS_URL the servers are someone else's
  const tls = await checkedTls(cfg, cfg.natsUrl ? null : undefined);
  if (!cfg.natsUrl) {
    let bin: string;
    try {
      bin = findNatsServer();
    } catch (err) {
      fail(String((err as Error).message));
    }
    try {
      // the service and its server are loaded only to run them: every other command starts in a blink
      const { startEmbeddedServer } = await import("../server/embedded.ts");
      server = await startEmbeddedServer(cfg, bin, tls);
    } catch (err) {
      fail((err as Error).message);
    }
  }
  const url = cfg.natsServers ?? server!.url;
  // what clients are told: tls:// when the port takes TLS only
  const shown = cfg.natsUrl ?? (tls ? server!.url.replace(/^nats:/, "tls:") : server!.url);
  const ca = clientCaFile(cfg);
  let svc;
  try {
    const { startService } = await import("../main.ts");
    svc = await startService(cfg, log, url);
  } catch (err) {
    await server?.stop();
    fail(`the service did not start: ${(err as Error).message}`);
  }
  const admin = join(cfg.dataDir, DataFile.adminCreds);
  const key = svc.adminKeyFile;
  process.stdout.write(
    `mnq ready on ${shown} (region ${cfg.region}). The admin API key is in ${key} (0600); call the API with it\n` +
      `(the nats CLI reads NATS_USER / NATS_PASSWORD, so the secret stays off command lines):\n` +
      `  export NATS_URL=${shown}${ca ? ` NATS_CA=${ca}` : ""} NATS_USER="$(jq -r .access_key ${key})" NATS_PASSWORD="$(jq -r .secret_key ${key})"\n` +
      `  nats req mnq.api.v1.my-project.nats-accounts.create '{"name":"orders"}'\n` +
      `or with admin.creds: nats --server ${shown}${ca ? ` --tlsca ${ca}` : ""} --creds ${admin} micro info mnq\n` +
      (cfg.wsPort !== undefined ? `WebSocket clients: ${tls ? "wss" : "ws"}://127.0.0.1:${cfg.wsPort}\n` : "") +
      (svc.metricsPort !== undefined ? `Metrics: http://${cfg.metricsHost}:${svc.metricsPort}/metrics (and /healthz, /readyz)\n` : ""),
  );
  const missing = missingMemorySettings();
  if (missing.length > 0) log.warn({ missing }, "started without the memory setting every launcher passes (README \"Capacity\"): resident memory may grow well past what MNQ_CACHE_MIB allows for");
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await svc.stop();
    await server?.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  server?.process.once("exit", (code) => {
    if (!stopping) fail(`nats-server exited unexpectedly (code ${code})`);
  });
}
