import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../contract/project-root.ts";

export class NatsServerMissingError extends Error {
  constructor(detail: string) {
    super(`no usable nats-server: ${detail}`);
    this.name = "NatsServerMissingError";
  }
}

/**
 * Finds a nats-server >= 2.11.2 through the project installer (NATS_SERVER_BIN, PATH, the
 * project cache, or Debian's package fetched into the cache).
 */
export function findNatsServer(): string {
  const installer = join(projectRoot, "deploy", "install-nats-server.sh");
  try {
    return execFileSync("bash", [installer, "--quiet"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new NatsServerMissingError(stderr.trim() || String(err));
  }
}

export interface StartOptions {
  /** nats-server binary; found with `findNatsServer()` when absent. */
  bin?: string;
  /** Config file to run (`-c`). */
  configFile: string;
  /** Extra command-line arguments (e.g. `-a 127.0.0.1 -p 4222`). */
  args?: string[];
  /** Where the server's output goes: "inherit" for a foreground server, else kept for error messages. */
  stdio?: "inherit" | "pipe";
  /** How long to wait for the server to listen. */
  timeoutMs?: number;
  /** Working directory: relative paths in the config (resolver, store) are taken from it. */
  cwd?: string;
}

export interface RunningServer {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  /** Sends SIGTERM (SIGKILL after `graceMs`) and waits for the process to exit. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, for fault tests. */
  kill(): Promise<void>;
}

/**
 * Starts nats-server and resolves once it listens. The server writes its ports to a file
 * (`--ports_file_dir`) that is raced against an early exit, so a bad config or a port in use
 * rejects with the server's own last lines.
 */
export async function startNatsServer(opts: StartOptions): Promise<RunningServer> {
  const bin = opts.bin ?? findNatsServer();
  const portsDir = mkdtempSync(join(tmpdir(), "mnq-ports-"));
  const child = spawn(bin, ["-c", opts.configFile, "--ports_file_dir", portsDir, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    stdio: ["ignore", opts.stdio === "inherit" ? "inherit" : "pipe", opts.stdio === "inherit" ? "inherit" : "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  const spawnFailed = new Promise<never>((_, rej) => child.once("error", (e) => rej(new NatsServerMissingError(e.message))));

  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let port: number | undefined;
  try {
    while (port === undefined) {
      const state = await Promise.race([
        exited.then((code) => ({ exit: code })),
        spawnFailed,
        new Promise<null>((res) => setTimeout(() => res(null), 25)),
      ]);
      if (state && "exit" in state) {
        throw new Error(`nats-server exited (code ${state.exit}) before listening: ${lastLines(output)}`);
      }
      port = readPort(portsDir, child.pid);
      if (port === undefined && Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`nats-server did not listen within ${opts.timeoutMs ?? 10_000} ms: ${lastLines(output)}`);
      }
    }
  } finally {
    rmSync(portsDir, { recursive: true, force: true });
  }

  return {
    pid: child.pid!,
    port,
    url: `nats://127.0.0.1:${port}`,
    process: child,
    stop: (graceMs = 5000) => signalAndWait(child, exited, "SIGTERM", graceMs),
    kill: () => signalAndWait(child, exited, "SIGKILL", 0),
  };
}

/** Sends `signal` to a running child (SIGKILL after `graceMs`) and resolves once it has exited. */
export async function signalAndWait(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function readPort(dir: string, pid: number | undefined): number | undefined {
  const file = readdirSync(dir).find((f) => f.endsWith(".ports") && (pid === undefined || f.includes(`_${pid}.`)));
  if (!file) return undefined;
  try {
    const ports = JSON.parse(readFileSync(join(dir, file), "utf8")) as { nats?: string[] };
    const url = ports.nats?.[0];
    return url ? Number(new URL(url).port) : undefined;
  } catch {
    return undefined; // written but not yet complete
  }
}

function lastLines(output: string): string {
  const lines = output.trim().split("\n").slice(-3).join(" | ");
  return lines || "(no output)";
}

export { lastLines, projectRoot };
