// Writes schemas/config.json from the settings table (service/config/settings.ts), its one declaration.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configSchema } from "./settings.ts";
import { projectRoot } from "../server/launcher.ts";

writeFileSync(join(projectRoot, "schemas", "config.json"), `${JSON.stringify(configSchema, null, 2)}\n`);
