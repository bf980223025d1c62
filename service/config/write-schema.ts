// Writes schemas/config.json from the settings table (service/config/settings.ts), its one declaration.
import { writeFileSync } from "node:fs";
import { configSchema } from "./settings.ts";

writeFileSync(new URL("../../schemas/config.json", import.meta.url), `${JSON.stringify(configSchema, null, 2)}\n`);
