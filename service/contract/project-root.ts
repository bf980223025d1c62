import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout (or installed package) root: the sources run from `service/`, a build from `dist/service/`, a bundle from `dist/bundle/`. */
export const projectRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "schemas")) || !existsSync(join(dir, "deploy"))) {
    const up = dirname(dir);
    if (up === dir) return resolve(dirname(fileURLToPath(import.meta.url)), "../..");
    dir = up;
  }
  return dir;
})();
