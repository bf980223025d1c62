import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Parser } from "@asyncapi/parser";
import { adminEndpoints, projectEndpoints } from "../service/api/service.ts";
import { projectRoot } from "../service/contract/project-root.ts";
import { asyncApiText } from "../service/contract/asyncapi.ts";
import { EVENT_TYPES } from "../service/contract/subjects.ts";

const FILE = join(projectRoot, "docs", "asyncapi.json");
const version = (JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { version: string }).version;

describe("contract: docs/asyncapi.json", () => {
  test("asyncapi - the file is what `npm run schemas` makes of schemas/ and the subjects today (run it after changing either)", () => {
    assert.equal(readFileSync(FILE, "utf8"), asyncApiText(version), "docs/asyncapi.json is out of date: run npm run schemas");
  });

  test("asyncapi - the AsyncAPI parser reads it without an error, with one operation per endpoint and per event", async () => {
    const { document, diagnostics } = await new Parser().parse(readFileSync(FILE, "utf8"));
    const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.code}: ${d.message} at ${d.path.join(".")}`);
    assert.deepEqual(errors, []);
    assert.ok(document, "a document");
    const operations = document.operations().all().map((o) => o.id() ?? "");
    const expected = [...projectEndpoints, ...adminEndpoints].map((e) => e.subject);
    assert.deepEqual(operations.filter((o) => !o.startsWith("event.")).sort(), [...expected].sort());
    assert.deepEqual(operations.filter((o) => o.startsWith("event.")).sort(), EVENT_TYPES.map((t) => `event.${t}`).sort());
    // each endpoint's reply carries its reply and the error reply
    const create = document.operations().get("nats-credentials.create");
    assert.deepEqual(create?.reply()?.messages().all().map((m) => m.id()).sort(), ["error", "reply"]);
    assert.equal(document.channels().get("nats-credentials.create")?.address(), "mnq.api.v1.{project}.nats-credentials.create");
    assert.equal(document.channels().get("event.nats-accounts.quota")?.address(), "mnq.events.v1.{project}.nats-accounts.quota");
  });

  test("asyncapi - every schema of schemas/api and schemas/events is in the document, and none is left out of an operation", () => {
    const doc = JSON.parse(readFileSync(FILE, "utf8")) as { components: { schemas: Record<string, unknown>; messages: Record<string, unknown> } };
    for (const dir of ["api", "events"]) {
      for (const file of readdirSync(join(projectRoot, "schemas", dir))) {
        const name = `${dir}.${file.replace(/\.json$/, "")}`;
        assert.ok(name in doc.components.schemas, `${name} in components.schemas`);
        if (name !== "api.error.reply") {
          const message = dir === "api" ? file.replace(/^(.*)\.(request|reply)\.json$/, "$1.$2") : `event.${file.replace(/\.json$/, "")}`;
          assert.ok(message in doc.components.messages, `${message} in components.messages`);
        }
      }
    }
  });
});
