import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { type ArgumentDetail, type ArgumentReason, InvalidArgumentsError } from "./errors.ts";
import { projectRoot } from "./server/launcher.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const schemaDir = join(projectRoot, "schemas");

function loadSchemas(dir: string): object[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? loadSchemas(join(dir, e.name))
      : e.name.endsWith(".json") && e.name !== "config.json"
        ? [JSON.parse(readFileSync(join(dir, e.name), "utf8")) as object]
        : [],
  );
}

// allErrors stays off: one error is enough to answer, and it bounds the work on hostile input.
const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false });
addFormats(ajv);
ajv.addSchema(loadSchemas(schemaDir));
const compiled = new Map<string, ValidateFunction>();
// Compile every schema now, at start: a broken schema fails the start, not a request.
for (const id of Object.keys(ajv.schemas)) if (id.startsWith("urn:mnq:")) ajv.getSchema(id);

/** The compiled validator of a schema `$id` (compiled once, on first use). */
export function validator(id: string): ValidateFunction {
  let fn = compiled.get(id);
  if (!fn) {
    fn = ajv.getSchema(id);
    if (!fn) throw new Error(`no schema with $id ${id}`);
    compiled.set(id, fn);
  }
  return fn;
}

/** Checks a request body against its schema; InvalidArgumentsError naming the argument otherwise. */
export function validateRequest<T>(id: string, body: unknown): T {
  const fn = validator(id);
  if (fn(body)) return body as T;
  throw new InvalidArgumentsError((fn.errors ?? []).map(toDetail));
}

function toDetail(e: ErrorObject): ArgumentDetail {
  const path = e.instancePath.replace(/^\//, "").replace(/\//g, ".");
  const reason: ArgumentReason =
    e.keyword === "required"
      ? "required"
      : e.keyword === "additionalProperties"
        ? "unknown"
        : ["type", "format", "pattern"].includes(e.keyword)
          ? "format"
          : "constraint";
  const argument =
    e.keyword === "required"
      ? String((e.params as { missingProperty: string }).missingProperty)
      : e.keyword === "additionalProperties"
        ? String((e.params as { additionalProperty: string }).additionalProperty)
        : path || "body";
  const help =
    reason === "unknown" ? `unknown argument ${argument}` : reason === "required" ? `${argument} is required` : `${argument} ${e.message ?? "is invalid"}`;
  return { argument_name: argument, reason, help_message: help };
}
