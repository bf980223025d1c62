import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { DataFile } from "../service/bootstrap/index.ts";
import { NKeyPair, parseCreds } from "../service/identity/index.ts";
import { Store } from "../service/store/index.ts";
import { closedWithin } from "./helpers/check.ts";
import { bounded } from "./helpers/load.ts";
import { assertReplySchema, type MnqFixture, startMnq } from "./helpers/mnq.ts";

type Account = { id: string; name: string; project_id: string; endpoint: string; region: string; created_at: string; updated_at: string };
type Page = { total_count: number; nats_accounts: Account[] };

describe("nats-accounts", () => {
  let f: MnqFixture;
  before(async () => {
    f = await startMnq({ MNQ_MAX_ACCOUNTS_PER_PROJECT: "10" });
  });
  after(() => f.stop());

  test("nats-accounts create - answers a NatsAccount whose id is a live account on the server", async () => {
    const r = await f.api<Account>("acc-create", "nats-accounts.create", { name: "orders" });
    assert.equal(r.code, undefined);
    assertReplySchema("nats-accounts.create", r.body);
    assert.equal(r.body.name, "orders");
    assert.equal(r.body.project_id, "acc-create");
    assert.equal(r.body.region, "local");
    assert.match(r.body.id, /^A[A-Z2-7]{55}$/);
    const served = await f.mnq.resolver.lookup(r.body.id);
    assert.ok(served?.startsWith("eyJ"), "the resolver serves the account JWT");
  });

  test("nats-accounts create - no name or an empty name gets a generated mnq-<word>-<word>", async () => {
    for (const body of [{}, { name: "" }, ""]) {
      const r = await f.api<Account>("acc-names", "nats-accounts.create", body);
      assert.match(r.body.name, /^mnq-[a-z]+-[a-z]+$/);
    }
  });

  test("nats-accounts create - bad input answers 400 invalid_arguments naming the argument", async () => {
    const cases: [unknown, string, string][] = [
      [{ name: "x".repeat(65) }, "name", "constraint"],
      [{ name: 7 }, "name", "format"],
      [{ colour: "red" }, "colour", "unknown"],
      ["not json", "body", "format"],
      [JSON.stringify({ name: "y".repeat(70 * 1024) }), "body", "constraint"],
    ];
    for (const [body, arg, reason] of cases) {
      const r = await f.api<{ type: string; details: { argument_name: string; reason: string }[] }>("acc-bad", "nats-accounts.create", body);
      assert.equal(r.code, 400);
      assert.equal(r.message, "invalid argument(s)");
      assertReplySchema("error", r.body);
      assert.equal(r.body.type, "invalid_arguments");
      assert.equal(r.body.details[0]?.argument_name, arg);
      assert.equal(r.body.details[0]?.reason, reason);
    }
  });

  test("nats-accounts create - a bad project id in the subject answers 400", async () => {
    const r = await f.api<{ details: { argument_name: string }[] }>("Bad_Project", "nats-accounts.create", {});
    assert.equal(r.code, 400);
    assert.equal(r.body.details[0]?.argument_name, "project_id");
  });

  test("nats-accounts create - 11th account answers 429 quotas_exceeded", async () => {
    for (let i = 0; i < 10; i++) assert.equal((await f.api("acc-quota", "nats-accounts.create", { name: `a${i}` })).code, undefined);
    const r = await f.api<{ type: string; details: unknown[] }>("acc-quota", "nats-accounts.create", { name: "eleven" });
    assert.equal(r.code, 429);
    assert.equal(r.body.type, "quotas_exceeded");
    assert.deepEqual(r.body.details, [{ resource: "nats_accounts", quota: 10, current: 10 }]);
    // Another project is not affected.
    assert.equal((await f.api("acc-quota-other", "nats-accounts.create", {})).code, undefined);
  });

  test("nats-accounts list - pages are ordered, never overlap, and total_count is exact", async () => {
    const names = ["delta", "alpha", "charlie", "bravo", "echo"];
    for (const name of names) await f.api("acc-list", "nats-accounts.create", { name });
    const all: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const r = await f.api<Page>("acc-list", "nats-accounts.list", { page, page_size: 2, order_by: "name_asc" });
      assertReplySchema("nats-accounts.list", r.body);
      assert.equal(r.body.total_count, 5);
      all.push(...r.body.nats_accounts.map((a) => a.name));
    }
    assert.deepEqual(all, [...names].sort());
    const desc = await f.api<Page>("acc-list", "nats-accounts.list", { order_by: "created_at_desc" });
    assert.deepEqual(desc.body.nats_accounts.map((a) => a.name), [...names].reverse());
    const filtered = await f.api<Page>("acc-list", "nats-accounts.list", { name: "rav" });
    assert.deepEqual(filtered.body.nats_accounts.map((a) => a.name), ["bravo"]);
    const bad = await f.api("acc-list", "nats-accounts.list", { page_size: 101 });
    assert.equal(bad.code, 400);
  });

  test("nats-accounts get/update - rename changes name and updated_at; get answers it", async () => {
    const created = (await f.api<Account>("acc-upd", "nats-accounts.create", { name: "before" })).body;
    const updated = await f.api<Account>("acc-upd", "nats-accounts.update", { nats_account_id: created.id, name: "after" });
    assertReplySchema("nats-accounts.update", updated.body);
    assert.equal(updated.body.name, "after");
    assert.ok(updated.body.updated_at > created.updated_at);
    const got = await f.api<Account>("acc-upd", "nats-accounts.get", { nats_account_id: created.id });
    assert.deepEqual(got.body, updated.body);
  });

  test("nats-accounts get - another project's account is not_found, never permissions_denied", async () => {
    const created = (await f.api<Account>("acc-tenant-a", "nats-accounts.create", {})).body;
    for (const op of ["get", "update", "delete"]) {
      const r = await f.api<{ type: string; resource: string; resource_id: string }>("acc-tenant-b", `nats-accounts.${op}`, { nats_account_id: created.id });
      assert.equal(r.code, 404, op);
      assert.deepEqual(r.body, { type: "not_found", message: "resource is not found", resource: "nats_account", resource_id: created.id });
    }
    assert.equal((await f.api("acc-tenant-a", "nats-accounts.get", { nats_account_id: created.id })).code, undefined);
  });

  test("nats-accounts get - a missing id is required, a malformed one a format error", async () => {
    const missing = await f.api<{ details: { argument_name: string; reason: string }[] }>("acc-get", "nats-accounts.get", {});
    assert.equal(missing.code, 400);
    assert.deepEqual(missing.body.details[0], { argument_name: "nats_account_id", reason: "required", help_message: "nats_account_id is required" });
    const bad = await f.api<{ details: { reason: string }[] }>("acc-get", "nats-accounts.get", { nats_account_id: "Axyz" });
    assert.equal(bad.body.details[0]?.reason, "format");
  });

  test("nats-accounts create/update - 50 concurrent calls on one project lose nothing", async () => {
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) => f.api<Account>("acc-race", "nats-accounts.create", { name: `race-${i}` })),
    );
    const ok = created.filter((r) => r.code === undefined).map((r) => r.body);
    const refused = created.filter((r) => r.code === 429);
    assert.equal(ok.length, 10, "exactly the cap is created");
    assert.equal(refused.length, 40);
    const renamed = await Promise.all(
      ok.flatMap((a) => [1, 2, 3, 4, 5].map((n) => f.api<Account>("acc-race", "nats-accounts.update", { nats_account_id: a.id, name: `${a.name}-v${n}` }))),
    );
    assert.ok(renamed.every((r) => r.code === undefined || r.code === 409), "every rename answers or reports a conflict");
    const list = await f.api<Page>("acc-race", "nats-accounts.list", { page_size: 100 });
    assert.equal(list.body.total_count, 10);
    const project = await f.mnq.store.projects.get("acc-race");
    assert.deepEqual([...(project?.value.accounts ?? [])].sort(), ok.map((a) => a.id).sort());
    for (const a of list.body.nats_accounts) {
      const rec = await f.mnq.store.accounts.get(Store.accountKey("acc-race", a.id));
      const served = await f.mnq.resolver.lookup(a.id);
      assert.equal(served, rec?.value.jwt, "the resolver serves the newest JWT of the record");
      const claims = JSON.parse(Buffer.from(served!.split(".")[1]!, "base64url").toString()) as { name: string };
      assert.equal(claims.name, a.name);
    }
  });

  test("micro service - $SRV.INFO lists every endpoint with its schemas", async () => {
    const info = (await f.admin.request("$SRV.INFO.mnq", "")).json<{ endpoints: { name: string; subject: string; metadata: Record<string, string> }[] }>();
    const create = info.endpoints.find((e) => e.name === "nats-accounts-create");
    assert.equal(create?.subject, "mnq.api.v1.*.nats-accounts.create");
    assert.equal(create?.metadata.request_schema, "urn:mnq:api:nats-accounts.create.request");
    assert.deepEqual(info.endpoints.map((e) => e.subject).sort(), [
      "$SYS.REQ.USER.AUTH",
      "mnq.admin.v1.api-keys.create",
      "mnq.admin.v1.api-keys.delete",
      "mnq.admin.v1.api-keys.list",
      "mnq.admin.v1.status",
      ...["nats-accounts", "nats-credentials"].flatMap((r) => ["create", "delete", "get", "list"].map((op) => `mnq.api.v1.*.${r}.${op}`)),
      "mnq.api.v1.*.nats-accounts.update",
      "mnq.api.v1.*.nats-accounts.usage",
      "mnq.api.v1.*.nats-accounts.rotate-signing-key",
      "mnq.api.v1.*.nats-accounts.import",
    ].sort());
  });

  test("nats-accounts delete - 200 accounts deleted right after their creation, each with a client connected by nkey: every delete answers 200 and closes it", async () => {
    // The teardown user must be issued in a later second than the freeze that revokes every user:
    // a timer that fires a few ms before the wall clock reached that second made it one of them.
    const outcomes = await bounded(200, 20, async (i) => {
      const project = `quick-${i}`;
      const id = (await f.api<{ id: string }>(project, "nats-accounts.create", {})).body.id;
      const c = (await f.api<{ credentials: { content: string } }>(project, "nats-credentials.create", { nats_account_id: id })).body;
      const kp = NKeyPair.fromSeed(parseCreds(c.credentials.content).seed, "user");
      const nc = await connect({
        servers: f.server.url,
        reconnect: false,
        authenticator: (nonce?: string) => ({ nkey: kp.getPublicKey(), sig: Buffer.from(kp.sign(Buffer.from(nonce ?? ""))).toString("base64url") }),
      });
      const closing = closedWithin(nc, 5000);
      const d = await f.api(project, "nats-accounts.delete", { nats_account_id: id });
      await closing;
      return d.code === undefined ? "ok" : `${project}: ${d.code} ${d.message}`;
    });
    assert.deepEqual(outcomes.filter((o) => o !== "ok"), []);
    // the resolver removes a deleted account's JWT file: churn does not grow its directory
    const left = readdirSync(join(f.dataDir, DataFile.resolverDir)).filter((n) => n.endsWith(".deleted"));
    assert.deepEqual(left, []);
  });
});
