import { setFlagsFromString } from "node:v8";

/**
 * The environment an instance's process runs in so that its resident memory stays bounded
 * (README "Capacity"): every launcher of `mnq start` (package.json's `start`,
 * deploy/systemd/mnq.service, deploy/container/Containerfile, `mnq cluster`'s instances, the
 * benches) sets it, and a test checks that each does.
 *
 * glibc serves blocks of 64 KiB and more (Node.js reads sockets into 64 KiB buffers) from mappings
 * of their own, given back when freed. Left to glibc's moving threshold, they come from the main
 * heap, which fragments and keeps what it grew to: at a million credentials, after a fleet count
 * and 100,000 logins, it held 88 MiB while 12 MiB of buffers were live; 29 MiB with this.
 *
 * (A smaller V8 young generation, `--max-semi-space-size=2`, was measured too and made it worse:
 * objects that live across a KV round trip were promoted, and the old generation grew to 177 MiB.)
 * V8's own heap is bounded from inside the process: see boundHeapGrowth.
 */
export const INSTANCE_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "65536" };

/** What of INSTANCE_ENV this process was started without, as `NAME=value` (empty when none). */
export function missingMemorySettings(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(INSTANCE_ENV)
    .filter(([k, v]) => env[k] !== v)
    .map(([k, v]) => `${k}=${v}`);
}

/**
 * How far V8 lets its old generation grow past what the last full collection left live, percent.
 * V8 picks 10–300% by itself, from how fast it collects: an instance's walks of KV at start (the
 * reconcile's, the first count's) make garbage quickly, some of it promoted while a batch awaits
 * its round trip, and at a million credentials the heap grew to 255 MiB for about 90 MiB live
 * (RSS 349 MiB); at 30% it peaked at 181–186 MiB RSS. A growth factor, not a ceiling: a larger live
 * set (a larger MNQ_CACHE_MIB) only makes full collections more frequent, never ends the process.
 */
export const HEAP_GROWING_PERCENT = 30;

/**
 * Sets V8's heap growth (HEAP_GROWING_PERCENT) for this process, which V8 reads at each full
 * collection, unless the process was started with a value of its own (node's flags or NODE_OPTIONS).
 */
export function boundHeapGrowth(execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env, set: (flags: string) => void = setFlagsFromString): boolean {
  const flag = "--heap-growing-percent";
  if (execArgv.some((a) => a.startsWith(flag)) || env.NODE_OPTIONS?.includes(flag)) return false;
  set(`${flag}=${HEAP_GROWING_PERCENT}`);
  return true;
}
