// Writes the files made from one declaration each: schemas/config.json from the settings table
// (service/config/settings.ts), its precompiled validator, and docs/asyncapi.json from schemas/ and the subjects (service/contract/).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asyncApiText } from "../contract/asyncapi.ts";
import { projectRoot } from "../contract/project-root.ts";
import { configSchema } from "../config/settings.ts";
import { settingsValidatorSource, VALIDATOR_FILE } from "../config/validator-source.ts";

const version = (JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { version: string }).version;
writeFileSync(join(projectRoot, "schemas", "config.json"), `${JSON.stringify(configSchema, null, 2)}\n`);
writeFileSync(join(projectRoot, "docs", "asyncapi.json"), asyncApiText(version));
writeFileSync(join(projectRoot, VALIDATOR_FILE), settingsValidatorSource());
