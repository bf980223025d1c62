import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { INSTANCE_ENV } from "../runtime/memory.ts";
import { lastLines, projectRoot, signalAndWait } from "./launcher.ts";

export interface InstanceOptions {
  /** The data dir every instance of a deployment shares (MNQ_DATA_DIR). */
  dataDir: string;
  /** The NATS servers it connects to (MNQ_NATS_URL). */
  servers: string[];
  /** More `MNQ_*` settings (e.g. MNQ_KV_REPLICAS). */
  env?: Record<string, string>;
  /** Each line the instance prints, e.g. to prefix it; else kept for error messages only. */
  onLine?: (line: string) => void;
  /** How long to wait for 'mnq ready'. */
  timeoutMs?: number;
}

export interface RunningInstance {
  readonly pid: number;
  readonly process: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (the instance drains: requests in flight are answered), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, for fault tests. */
  kill(): Promise<void>;
}

const MNQ = join(projectRoot, "bin", "mnq.mjs");

/** Starts `mnq start` against external servers as its own process; resolves once it is ready. */
export async function startInstance(opts: InstanceOptions): Promise<RunningInstance> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MNQ_LOG_LEVEL: process.env.MNQ_LOG_LEVEL ?? "warn",
    ...opts.env,
    MNQ_DATA_DIR: opts.dataDir,
    MNQ_NATS_URL: opts.servers.join(","),
  };
  const child = spawn(process.execPath, [MNQ, "start"], { env: { ...INSTANCE_ENV, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once("exit", (code, signal) => res({ code, signal })),
  );
  let output = "";
  let resolveReady: () => void;
  const ready = new Promise<void>((res) => (resolveReady = res));
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-4000);
    if (output.includes("mnq ready on")) resolveReady();
    if (opts.onLine) for (const line of text.split("\n")) if (line.trim()) opts.onLine(line);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);

  const timeoutMs = opts.timeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    ready.then(() => "ready" as const),
    exited.then(() => "exited" as const),
    new Promise<"timeout">((res) => (timer = setTimeout(() => res("timeout"), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome !== "ready") {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`mnq instance ${outcome === "exited" ? "exited" : `was not ready within ${timeoutMs} ms`}: ${lastLines(output)}`);
  }
  return {
    pid: child.pid!,
    process: child,
    exited,
    stop: (graceMs = 10_000) => signalAndWait(child, exited, "SIGTERM", graceMs),
    kill: () => signalAndWait(child, exited, "SIGKILL", 0),
  };
}
