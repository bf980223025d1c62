import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { writeSecretFile } from "../bootstrap/index.ts";
import type { Config } from "../config/index.ts";
import { clientTlsBlock, LISTEN_HOST, type ServerCertificate, websocketBlock } from "../tls/index.ts";
import { projectRoot, type RunningServer, startNatsServer } from "./launcher.ts";

const PROJECT_CONF = join(projectRoot, "nats-server.conf");
const DEFAULT_INCLUDE = 'include "./.mnq/server/embedded.conf"';

/**
 * The config file the embedded server runs: the project's nats-server.conf as it is for the
 * default data dir, else a copy in the data dir whose include points at that data dir.
 */
export function embeddedConfigFile(cfg: Readonly<Config>, extra = ""): string {
  if (relative(projectRoot, cfg.dataDir) === ".mnq" && extra === "") return PROJECT_CONF;
  const text = readFileSync(PROJECT_CONF, "utf8");
  if (!text.includes(DEFAULT_INCLUDE)) throw new Error(`${PROJECT_CONF} no longer has the line ${DEFAULT_INCLUDE}`);
  const file = join(cfg.dataDir, "server", "nats-server.conf");
  writeSecretFile(file, `${text.replace(DEFAULT_INCLUDE, 'include "./embedded.conf"')}
${extra}`);
  return file;
}

/**
 * Starts the embedded single-node nats-server on 127.0.0.1:`cfg.natsPort`: TLS only when a server
 * certificate is given (`tls`), and a WebSocket listener on MNQ_WS_PORT.
 */
export async function startEmbeddedServer(cfg: Readonly<Config>, bin?: string, tls?: ServerCertificate): Promise<RunningServer> {
  const extra = [tls ? clientTlsBlock(tls) : "", cfg.wsPort !== undefined ? websocketBlock(LISTEN_HOST, cfg.wsPort, tls) : ""].join("");
  try {
    return await startNatsServer({
      bin,
      configFile: embeddedConfigFile(cfg, extra),
      args: ["-a", LISTEN_HOST, "-p", String(cfg.natsPort)],
    });
  } catch (err) {
    if (/address already in use/i.test(String(err))) {
      const ws = cfg.wsPort !== undefined && String(err).includes(`:${cfg.wsPort}`);
      throw new Error(
        ws
          ? `port ${cfg.wsPort} on 127.0.0.1 is already in use (set MNQ_WS_PORT to another port)`
          : `port ${cfg.natsPort} on 127.0.0.1 is already in use (set MNQ_NATS_PORT to another port)`,
      );
    }
    throw err;
  }
}
