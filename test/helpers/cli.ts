import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../../service/contract/project-root.ts";

export const MNQ = join(projectRoot, "bin", "mnq.mjs");
/** The environment without any MNQ_ setting of the shell that runs the tests. */
export const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MNQ_")));

/** Runs an `mnq` command to its end (30 s at most). */
export function runMnq(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [MNQ, ...args], { env: { ...cleanEnv, ...env }, encoding: "utf8", timeout: 30_000 });
}

/** Starts `mnq start` as a user would; `output()` is what it printed so far (stdout and stderr). */
export function startMnqProcess(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [MNQ, "start"], { env: { ...cleanEnv, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return { child, output: () => out };
}

/** SIGINT (as Ctrl-C) and the exit code; a killed mnq could not stop the nats-server it started. */
export async function interrupt(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGINT");
  return exited;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** PIDs of nats-server processes listening on `port` (as `mnq start` passes `-p port`). */
export function natsServersOnPort(port: number): number[] {
  const out = spawnSync("pgrep", ["-f", `nats-server.* -p ${port}( |$)`], { encoding: "utf8" }).stdout.trim();
  return out ? out.split("\n").map(Number) : [];
}
