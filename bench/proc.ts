import { spawn } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../service/contract/project-root.ts";
import { INSTANCE_ENV } from "../service/runtime/memory.ts";
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU milliseconds (user + system) used so far by a process, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** Resident memory now and at its peak, MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { now: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

/**
 * Where a process's resident memory is, MiB, from /proc/<pid>/smaps: mapped files (the node binary
 * and its libraries), malloc's heap, and anonymous mappings (V8's heap pages, malloc's large
 * blocks and thread arenas, thread stacks).
 */
export function rssParts(pid: number): { files: number; heap: number; anonymous: number } {
  const parts = { files: 0, heap: 0, anonymous: 0 };
  let into: keyof typeof parts = "anonymous";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1]!;
      into = name.startsWith("/") ? "files" : name === "[heap]" ? "heap" : "anonymous";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) parts[into] += Number(rss[1]) / 1024;
  }
  return parts;
}

/**
 * The built service (npm run build) as a child process, as deployments run it (no TypeScript
 * loader in the process), against `url`; resolves once it prints its ready line.
 * BENCH_MNQ_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles it.
 */
export async function startMnqProcess(dataDir: string, url: string, metricsPort: number, env: Record<string, string> = {}): Promise<{ pid: number; stop: () => Promise<void> }> {
  const nodeArgs = (process.env.BENCH_MNQ_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, join(projectRoot, "dist/service/commands/cli.js"), "start"], {
    env: { ...INSTANCE_ENV, ...process.env, MNQ_DATA_DIR: dataDir, MNQ_NATS_URL: url, MNQ_LOG_LEVEL: "warn", MNQ_METRICS_PORT: String(metricsPort), ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("mnq ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`mnq exited (${code}) before it was ready`)));
  });
  let exited = false;
  child.once("exit", () => (exited = true));
  return {
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
