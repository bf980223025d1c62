import { join } from "node:path";
import { parseArgs } from "node:util";
import { bootstrap, DataFile } from "./bootstrap/index.ts";
import { API_COMMANDS, apiHelp, CONTEXT_COMMAND, runApiCommand } from "./commands/api-commands.ts";
import { CLUSTER_HELP, runCluster } from "./commands/cluster.ts";
import { CliError } from "./commands/connection.ts";
import { MIN_SERVER_VERSION, runStatus } from "./commands/status.ts";
import { ConfigError, type Config, loadConfig, settings } from "./config/index.ts";
import { createLogger } from "./log.ts";
import { VERSION } from "./version.ts";
import { findNatsServer, type RunningServer } from "./server/launcher.ts";
import { writeClusterTls } from "./server/cluster.ts";
import { checkedTls, clientCaFile, dialedHosts, TlsSettingError } from "./tls/index.ts";

const HELP: Record<string, string> = {
  main: `mnq ${VERSION}: NATS accounts and credentials, served over NATS (mnq.api.v1.<project>.>)

Usage: mnq <command> [--help]

Commands:
  bootstrap   create the operator, accounts, keys and server include in the data dir (idempotent)
  start       run mnq: bootstrap if needed, start the embedded nats-server (unless MNQ_NATS_URL
              is set), serve the API; Ctrl-C stops both
  cluster     run a 3-node JetStream cluster (deploy/cluster) and N mnq instances on this machine
  status      server reachable and recent enough, mnq instances, accounts/credentials/keys held
  account     create | list | get | delete | usage | rotate-key | import   (NATS accounts)
  creds       create | list | delete                                        (credentials files)
  api-key     create | list | delete                                        (API keys, admin)
  context     ACCOUNT_ID: new credentials + a nats CLI context, so 'nats --context NAME' works
  help        show this text, or 'mnq help <command>'

The API commands call mnq over NATS with the admin API key file of MNQ_DATA_DIR unless given
--api-key FILE or --creds FILE; add --json for scripts. 'mnq <command> --help' for each.

Configuration (environment variables):
${settings.map((s) => `  ${s.name.padEnd(30)} ${s.description}${s.default !== undefined ? ` [${s.default}]` : ""}`).join("\n")}
`,
  bootstrap: `Usage: mnq bootstrap

Creates, under MNQ_DATA_DIR (0700; files 0600), the operator (identity + signing key), the SYS
account and the service's system user, the MNQ account (auth callout, JetStream), the service,
admin and sentinel users, the master key for tenant seeds, and server/trust.conf +
server/embedded.conf for nats-server. Existing keys are never replaced; a second run only
fills in missing files.
`,
  status: `Usage: mnq status [--server URL] [--api-key FILE | --creds FILE] [--json]

Connects like the API commands and shows: the server URL and version (at least ${MIN_SERVER_VERSION}),
the mnq instances answering $SRV.PING, and the projects, accounts, credentials and API keys held.
Exits 1 when no instance answers or the server is too old.
`,
  cluster: CLUSTER_HELP,
  start: `Usage: mnq start

Bootstraps if needed, starts nats-server on 127.0.0.1:MNQ_NATS_PORT with nats-server.conf (or
connects to MNQ_NATS_URL), starts the service and prints 'mnq ready'. SIGINT/SIGTERM drain the
service and stop the server.
`,
};

function fail(message: string): never {
  process.stderr.write(`mnq: ${message}\n`);
  process.exit(1);
}

function config(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

async function runBootstrap(cfg: Readonly<Config>): Promise<void> {
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

async function runStart(cfg: Readonly<Config>): Promise<void> {
  const log = createLogger(cfg.logLevel);
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
      const { startEmbeddedServer } = await import("./server/embedded.ts");
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
    const { startService } = await import("./main.ts");
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

/** The commands that are not API calls; any other runs an action of an API group (`mnq creds create`). */
const COMMANDS: Record<string, (cfg: Readonly<Config>, rest: string[], command: string) => Promise<void>> = {
  bootstrap: (cfg) => runBootstrap(cfg),
  start: (cfg) => runStart(cfg),
  cluster: (cfg, rest) => runCluster(cfg, rest),
  status: (cfg, rest) => runStatus(cfg, statusFlags(rest)),
  context: (cfg, rest) => runApiCommand(cfg, CONTEXT_COMMAND, rest),
};

/** `mnq <group> <action> …`: one action of an API group. */
async function runApiGroup(cfg: Readonly<Config>, rest: string[], group: string): Promise<void> {
  const [action, ...args] = rest;
  const cmd = action ? API_COMMANDS[group]![action] : undefined;
  if (!cmd) {
    process.stderr.write(`mnq: ${action ? `unknown action '${action}'` : "which action?"}\n\n${apiHelp(group)}`);
    process.exit(2);
  }
  await runApiCommand(cfg, cmd, args);
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const wantsHelp = rest.includes("--help") || rest.includes("-h");
  if (!command || command === "help" || command === "--help" || command === "-h") {
    const topic = rest[0];
    process.stdout.write((topic && (HELP[topic] ?? apiHelp(topic, rest[1]))) || HELP.main!);
    return;
  }
  const isApi = command in API_COMMANDS || command === "context";
  if (!isApi && (!(command in HELP) || command === "main")) {
    process.stderr.write(`mnq: unknown command '${command}'\n\n${HELP.main}`);
    process.exit(2);
  }
  if (wantsHelp) {
    process.stdout.write(HELP[command] ?? apiHelp(command, rest[0])!);
    return;
  }
  const cfg = config();
  try {
    await (COMMANDS[command] ?? runApiGroup)(cfg, rest, command);
  } catch (err) {
    if (err instanceof CliError || err instanceof TlsSettingError) fail(err.message);
    throw err;
  }
}

function statusFlags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      options: { server: { type: "string" }, creds: { type: "string" }, "api-key": { type: "string" }, json: { type: "boolean" } },
    }).values;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${HELP.status}`);
  }
}

await main(process.argv.slice(2));
