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
 */
export const INSTANCE_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "65536" };

/** What of INSTANCE_ENV this process was started without, as `NAME=value` (empty when none). */
export function missingMemorySettings(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(INSTANCE_ENV)
    .filter(([k, v]) => env[k] !== v)
    .map(([k, v]) => `${k}=${v}`);
}
