import { join } from "node:path";
import { bootstrap, DataFile } from "./bootstrap/index.ts";
import { ConfigError, type Config, loadConfig, settings } from "./config.ts";
import { createLogger } from "./log.ts";
import { startService, VERSION } from "./main.ts";
import { startEmbeddedServer } from "./server/embedded.ts";
import { findNatsServer, type RunningServer } from "./server/launcher.ts";

const HELP: Record<string, string> = {
  main: `mnq ${VERSION}: NATS accounts and credentials, served over NATS (mnq.api.v1.<project>.>)

Usage: mnq <command> [--help]

Commands:
  bootstrap   create the operator, accounts, keys and server include in the data dir (idempotent)
  start       run mnq: bootstrap if needed, start the embedded nats-server (unless MNQ_NATS_URL
              is set), serve the API; Ctrl-C stops both
  help        show this text, or 'mnq help <command>'

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

function runBootstrap(cfg: Readonly<Config>): void {
  const r = bootstrap(cfg.dataDir);
  if (r.written.length === 0) {
    process.stdout.write(`mnq: ${cfg.dataDir} is already bootstrapped (operator ${r.operator})\n`);
  } else {
    process.stdout.write(`mnq: bootstrapped ${cfg.dataDir}: operator ${r.operator}, MNQ account ${r.mnqAccount}; wrote ${r.written.length} files\n`);
  }
}

async function runStart(cfg: Readonly<Config>): Promise<void> {
  const log = createLogger(cfg.logLevel);
  bootstrap(cfg.dataDir);
  let server: RunningServer | undefined;
  if (!cfg.natsUrl) {
    let bin: string;
    try {
      bin = findNatsServer();
    } catch (err) {
      fail(String((err as Error).message));
    }
    try {
      server = await startEmbeddedServer(cfg, bin);
    } catch (err) {
      fail((err as Error).message);
    }
  }
  const url = cfg.natsUrl ?? server!.url;
  let svc;
  try {
    svc = await startService(cfg, log, url);
  } catch (err) {
    await server?.stop();
    fail(`the service did not start: ${(err as Error).message}`);
  }
  const admin = join(cfg.dataDir, DataFile.adminCreds);
  const key = svc.adminKeyFile;
  process.stdout.write(
    `mnq ready on ${url} (region ${cfg.region}). The admin API key is in ${key} (0600); call the API with it:\n` +
      `  nats --server ${url} --user "$(jq -r .access_key ${key})" --password "$(jq -r .secret_key ${key})" \\\n` +
      `    req mnq.api.v1.my-project.nats-accounts.create '{"name":"orders"}'\n` +
      `or with admin.creds: nats --server ${url} --creds ${admin} micro info mnq\n`,
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

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const wantsHelp = rest.includes("--help") || rest.includes("-h");
  if (!command || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(HELP[rest[0] ?? "main"] ?? HELP.main!);
    return;
  }
  if (!(command in HELP) || command === "main") {
    process.stderr.write(`mnq: unknown command '${command}'\n\n${HELP.main}`);
    process.exit(2);
  }
  if (wantsHelp) {
    process.stdout.write(HELP[command]!);
    return;
  }
  const cfg = config();
  if (command === "bootstrap") runBootstrap(cfg);
  else if (command === "start") await runStart(cfg);
}

await main(process.argv.slice(2));
