import { apiHelp, API_COMMANDS, CONTEXT_COMMAND, runApiCommand } from "./api-commands.ts";
import { CliError } from "./connection.ts";
import { HELP } from "./help.ts";
import { ConfigError, type Config, loadConfig } from "../config/index.ts";
import { TlsSettingError } from "../tls/index.ts";

type Command = (cfg: Readonly<Config>, rest: string[], command: string) => Promise<void>;

/**
 * The commands that are not API calls; any other runs an action of an API group (`mnq creds create`).
 * Each is loaded when it runs: `mnq status` does not pay for the service, the server launcher or
 * the certificate library.
 */
const COMMANDS: Record<string, Command> = {
  bootstrap: async (cfg) => (await import("./start.ts")).runBootstrap(cfg),
  start: async (cfg) => (await import("./start.ts")).runStart(cfg),
  cluster: async (cfg, rest) => (await import("./cluster.ts")).runCluster(cfg, rest),
  status: async (cfg, rest) => (await import("./status.ts")).runStatus(cfg, rest),
  context: (cfg, rest) => runApiCommand(cfg, CONTEXT_COMMAND, rest),
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

await main(process.argv.slice(2));
