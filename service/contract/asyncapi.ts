/**
 * The AsyncAPI 3.0 document of mnq's wire contract, built from the JSON Schemas in `schemas/` and
 * the subjects in subjects.ts: every endpoint (its request, its reply, its error reply) and every
 * event. `npm run schemas` writes it to docs/asyncapi.json; a test fails when that file drifts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "./project-root.ts";
import { ADMIN_OPERATIONS, ADMIN_PREFIX, API_PREFIX, EVENT_TYPES, EVENTS_PREFIX, PROJECT_OPERATIONS } from "./subjects.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const SCHEMAS = join(projectRoot, "schemas");
const COMMON = "urn:mnq:common#/definitions/";

function readSchema(path: string): JsonObject {
  return JSON.parse(readFileSync(path, "utf8")) as JsonObject;
}

/** A schema with its `$ref`s into common.json pointed at the document's components, and no `$id`. */
function localize(node: Json): Json {
  if (Array.isArray(node)) return node.map(localize);
  if (node === null || typeof node !== "object") return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$id") continue;
    if (key === "$ref" && typeof value === "string") {
      out[key] = value.startsWith(COMMON) ? `#/components/schemas/${value.slice(COMMON.length)}` : value.replace(/^#\/definitions\//, "#/components/schemas/");
    } else out[key] = localize(value);
  }
  return out;
}

const ref = (path: string): JsonObject => ({ $ref: path });
const schemaName = (id: string) => id.replace(/^urn:mnq:/, "").replace(/:/g, ".");

const PROJECT_PARAMETER: JsonObject = { description: "The project id: 1–64 characters of [a-z0-9-]." };

/** The error reply: micro's error headers and the JSON body (docs/api.md "Errors"). */
const ERROR_MESSAGE: JsonObject = {
  name: "error",
  title: "Error reply",
  summary: "Any endpoint's reply when the call failed: the status in Nats-Service-Error-Code, the body in the error shapes of docs/api.md.",
  headers: {
    type: "object",
    required: ["Nats-Service-Error-Code", "Nats-Service-Error"],
    properties: {
      "Nats-Service-Error-Code": { type: "string", description: "An HTTP-like status: 400, 403, 404, 409, 429, 500 or 503." },
      "Nats-Service-Error": { type: "string", description: "The error's message." },
    },
  },
  payload: ref("#/components/schemas/api.error.reply"),
};

/** The document for `version` (the package's). */
export function asyncApiDocument(version: string): JsonObject {
  const schemas: JsonObject = {};
  const common = readSchema(join(SCHEMAS, "common.json"));
  for (const [name, def] of Object.entries(common.definitions as JsonObject)) schemas[name] = localize(def);
  for (const dir of ["api", "events"]) {
    for (const file of readdirSync(join(SCHEMAS, dir)).filter((f) => f.endsWith(".json")).sort()) {
      const schema = readSchema(join(SCHEMAS, dir, file));
      schemas[schemaName(String(schema.$id))] = localize(schema);
    }
  }

  const channels: JsonObject = {};
  const operations: JsonObject = {};
  const messages: JsonObject = { error: ERROR_MESSAGE };
  const endpoints = [
    ...PROJECT_OPERATIONS.map((op) => ({ op, address: `${API_PREFIX}.{project}.${op}`, scoped: true })),
    ...ADMIN_OPERATIONS.map((op) => ({ op, address: `${ADMIN_PREFIX}.${op}`, scoped: false })),
  ];
  for (const { op, address, scoped } of endpoints) {
    for (const part of ["request", "reply"] as const) {
      const schema = schemas[`api.${op}.${part}`] as JsonObject | undefined;
      if (!schema) throw new Error(`schemas/api/${op}.${part}.json is missing`);
      messages[`${op}.${part}`] = { name: `${op}.${part}`, title: String(schema.title ?? `${op} ${part}`), payload: ref(`#/components/schemas/api.${op}.${part}`) };
    }
    channels[op] = {
      address,
      ...(scoped ? { parameters: { project: PROJECT_PARAMETER } } : {}),
      messages: { request: ref(`#/components/messages/${op}.request`) },
    };
    // the reply goes to the requester's inbox: an address known only at run time
    channels[`${op}.reply`] = {
      address: null,
      messages: { reply: ref(`#/components/messages/${op}.reply`), error: ref("#/components/messages/error") },
    };
    operations[op] = {
      action: "receive",
      summary: scoped ? `Project endpoint ${op}` : `Operator endpoint ${op} (admin.creds and admin API keys only)`,
      channel: ref(`#/channels/${op}`),
      messages: [ref(`#/channels/${op}/messages/request`)],
      reply: { channel: ref(`#/channels/${op}.reply`), messages: [ref(`#/channels/${op}.reply/messages/reply`), ref(`#/channels/${op}.reply/messages/error`)] },
    };
  }
  for (const type of EVENT_TYPES) {
    const schema = schemas[`events.${type}`] as JsonObject | undefined;
    if (!schema) throw new Error(`schemas/events/${type}.json is missing`);
    messages[`event.${type}`] = { name: `event.${type}`, title: String(schema.title ?? type), payload: ref(`#/components/schemas/events.${type}`) };
    channels[`event.${type}`] = {
      address: `${EVENTS_PREFIX}.{project}.${type}`,
      parameters: { project: PROJECT_PARAMETER },
      messages: { event: ref(`#/components/messages/event.${type}`) },
    };
    operations[`event.${type}`] = {
      action: "send",
      summary: `Event ${type}: published once per change, after it took effect; never a secret`,
      channel: ref(`#/channels/event.${type}`),
      messages: [ref(`#/channels/event.${type}/messages/event`)],
    };
  }

  return {
    asyncapi: "3.0.0",
    info: {
      title: "mnq",
      version,
      description:
        "NATS accounts and credentials, served over NATS request/reply. Every call is one request with a JSON body (an empty body means {}), answered by one reply. docs/api.md is the reference in words.",
    },
    defaultContentType: "application/json",
    servers: { local: { host: "127.0.0.1:4222", protocol: "nats", description: "The embedded nats-server of `npm start`." } },
    channels,
    operations,
    components: { schemas, messages },
  };
}

/** The document as docs/asyncapi.json holds it. */
export function asyncApiText(version: string): string {
  return `${JSON.stringify(asyncApiDocument(version), null, 2)}\n`;
}
