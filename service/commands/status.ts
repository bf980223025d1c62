import { parseArgs } from "node:util";
import type { Config } from "../config/index.ts";
import { MIN_SERVER_VERSION } from "../runtime/version.ts";
import { callApi, CliError, connectApi, type ConnectionFlags } from "./connection.ts";
import { HELP } from "./help.ts";
import { print } from "./output.ts";
import { adminSubject } from "../contract/subjects.ts";


export function versionAtLeast(version: string, floor: string): boolean {
  const parse = (v: string) => v.replace(/^v/, "").split(/[.-]/).slice(0, 3).map((n) => Number.parseInt(n, 10) || 0);
  const [a, b] = [parse(version), parse(floor)];
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  return true;
}

/** `mnq status`: the server (reachable, version), the service instances, and what mnq holds. */
export async function runStatus(cfg: Readonly<Config>, argv: string[]): Promise<void> {
  const flags = statusFlags(argv);
  const nc = await connectApi(cfg, flags);
  try {
    const version = nc.info?.version ?? "unknown";
    // the instances' pings and the status call at once; instances answer a ping within a few ms of each other
    const ping = async () => {
      const instances: { id: string; version: string }[] = [];
      for await (const m of await nc.requestMany("$SRV.PING.mnq", "", { strategy: "stall", stall: 50, maxWait: 3000 })) {
        try {
          instances.push(m.json<{ id: string; version: string }>());
        } catch {
          // not a micro ping reply
        }
      }
      return instances;
    };
    const statusCall = callApi<Record<string, unknown> & { servers?: { name: string; version: string }[] }>(nc, adminSubject("status"), {});
    statusCall.catch(() => undefined); // awaited below, once an instance is known to answer
    const instances = await ping();
    if (instances.length === 0) throw new CliError(`nats-server ${version} at ${nc.getServer()} answers, but no mnq instance does`);
    const { servers = [], ...counts } = await statusCall;
    const old = servers.filter((sv) => !versionAtLeast(sv.version, MIN_SERVER_VERSION));
    const ok = versionAtLeast(version, MIN_SERVER_VERSION) && old.length === 0;
    const status = { server: nc.getServer(), server_version: version, server_version_ok: ok, instances: instances.length, ...counts };
    if (flags.json) print({ ...status, instance_ids: instances.map((i) => i.id), servers }, true);
    else {
      print(status, false);
      if (servers.length > 0) {
        process.stdout.write("\n");
        print(servers.map((sv) => ({ ...sv, version_ok: versionAtLeast(sv.version, MIN_SERVER_VERSION) })), false, ["name", "version", "version_ok"]);
      }
    }
    if (!ok) throw new CliError(`nats-server ${old.map((sv) => `${sv.name} ${sv.version}`).join(", ") || version} is older than ${MIN_SERVER_VERSION}; upgrade it`);
  } finally {
    await nc.close();
  }
}

function statusFlags(argv: string[]): ConnectionFlags & { json?: boolean } {
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
