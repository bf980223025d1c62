import { Ajv } from "ajv";
import standaloneModule from "ajv/dist/standalone/index.js";
import { configSchema } from "./settings.ts";

// a CommonJS module whose export is the function (TypeScript sees its `default`)
const standalone = standaloneModule as unknown as typeof standaloneModule.default;

/** Where `npm run schemas` writes the precompiled settings validator. */
export const VALIDATOR_FILE = "service/config/settings-validator.ts";

/**
 * The settings validator as a module of its own (ajv standalone): every command checks its
 * environment with it, and compiling the schema at each start cost the CLI ~60 ms and ajv's load.
 * Environment values are strings: it coerces them to the schema's types and fills in defaults.
 */
export function settingsValidatorSource(): string {
  const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true, code: { source: true, esm: true } });
  // ajv's ESM output still require()s its small runtime helpers (ucs2length): import them instead
  // (CommonJS modules: their default import is module.exports, whose `default` is the helper)
  const imports: string[] = [];
  const code = standalone(ajv, ajv.compile(configSchema)).replace(/require\("(ajv\/dist\/runtime\/[\w-]+)"\)\.default/g, (_: string, path: string) => {
    imports.push(`import runtime${imports.length} from "${path}.js";`);
    return `runtime${imports.length - 1}.default`;
  });
  return `// @ts-nocheck\n// Made by \`npm run schemas\` from service/config/settings.ts (ajv standalone); do not edit.\n${imports.join("\n")}\n${code}\n`;
}
