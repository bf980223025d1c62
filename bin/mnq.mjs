#!/usr/bin/env node
// The `mnq` command. Runs the bundled CLI (dist/bundle/, built by `npm ci` / `npm run build`: one
// file per command, loaded when it runs, so `mnq status` starts in a blink) when it is as new as
// the sources, else the TypeScript sources through tsx (a checkout being edited).
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major < 20) {
  process.stderr.write(`mnq needs Node.js 20 or newer; this is Node.js ${process.versions.node}\n`);
  process.exit(1);
}
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = join(root, "dist", "bundle", "cli.js");

/** The newest modification time of the sources under `dir`, ms. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith(".ts") ? statSync(p).mtimeMs : 0);
  }
  return t;
}

if (existsSync(built) && statSync(built).mtimeMs >= newest(join(root, "service"))) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../service/commands/cli.ts");
}
