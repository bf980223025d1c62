import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { projectRoot } from "../service/contract/project-root.ts";
import { boundHeapGrowth, INSTANCE_ENV, missingMemorySettings } from "../service/runtime/memory.ts";

const read = (path: string) => readFileSync(join(projectRoot, path), "utf8");

test("launchers - every launcher of `mnq start` runs it with the memory setting (glibc's mmap threshold)", () => {
  const launchers = {
    "npm start": (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts.start!,
    "deploy/systemd/mnq.service": read("deploy/systemd/mnq.service"),
    "deploy/container/Containerfile": read("deploy/container/Containerfile"),
    "mnq cluster's instances": read("service/server/instance.ts"),
    "the benches' instances": read("bench/proc.ts"),
  };
  for (const [name, text] of Object.entries(launchers)) {
    if (text.includes("...INSTANCE_ENV")) continue; // spawns with the constant itself
    for (const [k, v] of Object.entries(INSTANCE_ENV)) assert.ok(text.includes(`${k}=${v}`), `${name} sets ${k}=${v}`);
  }
});

test("launchers - a start without it is told what is missing", () => {
  assert.deepEqual(missingMemorySettings({ ...INSTANCE_ENV }), []);
  assert.deepEqual(missingMemorySettings({}), Object.entries(INSTANCE_ENV).map(([k, v]) => `${k}=${v}`));
  assert.deepEqual(missingMemorySettings({ MALLOC_MMAP_THRESHOLD_: "131072" }), ["MALLOC_MMAP_THRESHOLD_=65536"]);
});

test("launchers - `mnq start` bounds V8's heap growth itself, unless its process was started with a growth of its own", () => {
  const set: string[] = [];
  const record = (flags: string) => void set.push(flags);
  assert.equal(boundHeapGrowth(["--heap-growing-percent=50"], {}, record), false, "node's own flag is kept");
  assert.equal(boundHeapGrowth([], { NODE_OPTIONS: "--heap-growing-percent=50" }, record), false, "NODE_OPTIONS is kept");
  assert.deepEqual(set, []);
  assert.equal(boundHeapGrowth([], {}, record), true);
  assert.deepEqual(set, ["--heap-growing-percent=30"]);
  assert.match(read("service/commands/start.ts"), /boundHeapGrowth\(\)/, "the start command sets it");
});
