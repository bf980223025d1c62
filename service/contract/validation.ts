import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { type ArgumentDetail, type ArgumentReason, InvalidArgumentsError } from "./errors.ts";
import { projectRoot } from "./project-root.ts";

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

/** True for an access key as schemas/common.json defines it (what `newAccessKey` makes); anything else names no key. */
export function isAccessKey(s: string): boolean {
  return validator("urn:mnq:common#/definitions/access_key")(s);
}

/** True for a NATS user public key as schemas/common.json defines it (a credential's nkey); anything else names no credential. */
export function isUserPublicKey(s: string): boolean {
  return validator("urn:mnq:common#/definitions/user_public_key")(s);
}

/** Checks a request body against its schema; InvalidArgumentsError naming the argument otherwise. */
export function validateRequest<T>(id: string, body: unknown): T {
  const fn = validator(id);
  if (fn(body)) return body as T;
  throw new InvalidArgumentsError((fn.errors ?? []).map((e) => toDetail(e, body)));
}

/** An argument's path as people write it: `permissions.publish.allow[0]`. */
function argumentPath(instancePath: string): string {
  return instancePath
    .replace(/^\//, "")
    .split("/")
    .filter(Boolean)
    .map((t, i) => (/^\d+$/.test(t) ? `[${t}]` : `${i === 0 ? "" : "."}${t.replace(/~1/g, "/").replace(/~0/g, "~")}`))
    .join("");
}

/** What is wrong with a subject, in words (the schema's pattern says it in a regex). */
export function subjectProblem(subject: string): string {
  const queue = subject.indexOf(" ");
  const s = queue >= 0 ? subject.slice(0, queue) : subject;
  if (queue >= 0 && subject.slice(queue + 1).includes(" ")) return "a subject and a queue group are separated by one space, and neither holds another";
  if (/[\u0000-\u001f\u007f\s]/.test(s)) return "a subject holds no spaces or control characters";
  const tokens = s.split(".");
  if (tokens.some((t) => t === "")) return "a subject has no empty token (no leading, trailing or double dot)";
  if (tokens.slice(0, -1).includes(">")) return "'>' may only be the last token";
  if (tokens.some((t) => t !== "*" && t !== ">" && /[*>]/.test(t))) return "'*' and '>' stand for whole tokens only";
  return "is not a valid subject";
}

/** Words for the patterns of schemas/common.json, by the definition that failed. */
const PATTERN_WORDS: Record<string, (value: unknown) => string> = {
  subject: (v) => subjectProblem(String(v)),
  subscribe_subject: (v) => subjectProblem(String(v)),
  project_id: () => "must be 1-64 of a-z, 0-9 and -",
  account_id: () => "must be an account public key: A and 55 of A-Z, 2-7",
  credentials_id: () => "must be a credentials id (a UUID)",
  access_key: () => "must be an access key: MNQ and 17 of A-Z, 2-7",
};

function patternWords(e: ErrorObject, value: unknown): string | undefined {
  const def = /#\/(?:\$defs|definitions)\/([a-z_]+)\/pattern$/.exec(e.schemaPath)?.[1];
  if (def && PATTERN_WORDS[def]) return PATTERN_WORDS[def](value);
  if (def && /name/.test(def)) return "may not hold control, invisible, line or paragraph separator characters";
  return undefined;
}

function toDetail(e: ErrorObject, body: unknown): ArgumentDetail {
  const path = argumentPath(e.instancePath);
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
  const words = e.keyword === "pattern" ? patternWords(e, valueAt(body, e.instancePath)) : undefined;
  const said =
    e.keyword === "enum"
      ? `must be ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(" or ")}`
      : (words ?? (e.keyword === "pattern" ? "is not in the expected form" : (e.message ?? "is invalid")));
  const help = reason === "unknown" ? `${argument} is not a known argument` : reason === "required" ? `${argument} is required` : `${argument}: ${said}`;
  return { argument_name: argument, reason, help_message: help };
}

/** The value at a JSON pointer of `body`. */
function valueAt(body: unknown, pointer: string): unknown {
  let at: unknown = body;
  for (const t of pointer.split("/").filter(Boolean)) at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[t.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
  return at;
}
