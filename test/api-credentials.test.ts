import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { DataFile } from "../service/bootstrap/index.ts";
import { BucketName } from "../service/store/index.ts";
import { validator } from "../service/contract/validation.ts";
import { check } from "./helpers/check.ts";
import { assertReplySchema, connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

type Account = { id: string };
type Creds = { id: string; name: string; nats_account_id: string; checksum: string; credentials: { name: string; content: string } | null };

// What a leaked seed or creds file looks like (built from parts so the source holds no such marker).
const SEED_OR_CREDS = new RegExp(["S[UAOX][A-Z2-7]{56}", "BEGIN USER NKEY " + "SEED", "BEGIN NATS USER " + "JWT"].join("|"));

function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
    );
  } catch {
    return [];
  }
}

describe("nats-credentials", () => {
  let f: MnqFixture;
  const open = connectionsOfSuite();
  before(async () => {
    f = await startMnq();
  });
  after(async () => {
    await open.closeAll();
    await f.stop();
  });

  const account = async (project: string) => (await f.api<Account>(project, "nats-accounts.create", {})).body;
  const creds = async (project: string, nats_account_id: string, name?: string) =>
    (await f.api<Creds>(project, "nats-credentials.create", { nats_account_id, ...(name ? { name } : {}) })).body;
  const client = async (file: string, opts: Record<string, unknown> = {}) => {
    const nc = await connectWithCreds(f.server.url, file, { reconnect: false, ...opts });
    open.keep(nc);
    return nc;
  };

  test("nats-credentials create - the file connects a standard client into the new account at once", async () => {
    const a = await account("cr-connect");
    const r = await f.api<Creds>("cr-connect", "nats-credentials.create", { nats_account_id: a.id, name: "worker" });
    assert.equal(r.code, undefined);
    assertReplySchema("nats-credentials.create", r.body);
    assert.equal(r.body.credentials?.name, "worker.creds");
    assert.equal(r.body.checksum, (await import("node:crypto")).createHash("sha1").update(r.body.credentials!.content).digest("hex"));
    const nc = await client(r.body.credentials!.content);
    const info = (await nc.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
    assert.equal(info.data.account, a.id);
  });

  test("nats-credentials - pub/sub and JetStream work, and two accounts cannot see each other", async () => {
    const a = await account("cr-iso");
    const b = await account("cr-iso");
    const a1 = await client((await creds("cr-iso", a.id)).credentials!.content);
    const a2 = await client((await creds("cr-iso", a.id)).credentials!.content);
    const b1 = await client((await creds("cr-iso", b.id)).credentials!.content);
    const inA = a2.subscribe("orders.>", { max: 1 });
    const inB = b1.subscribe("orders.>", { timeout: 300 });
    await a2.flush();
    await b1.flush();
    a1.publish("orders.new", "hello");
    for await (const m of inA) assert.equal(m.string(), "hello");
    await assert.rejects((async () => {
      for await (const _ of inB) assert.fail("account B saw account A's message");
    })());

    const jsm = await jetstreamManager(a1);
    await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
    const ack = await jetstream(a1).publish("orders.1", "x");
    assert.equal(ack.stream, "ORDERS");
    const kv = await new Kvm(a1).create("settings");
    await kv.put("k", "v");
    assert.equal((await kv.get("k"))?.string(), "v");
    const bNames: string[] = [];
    for await (const n of (await jetstreamManager(b1)).streams.names()) bNames.push(n);
    assert.deepEqual(bNames, []);
  });

  test("nats-credentials get/list - metadata only: credentials null, checksum kept", async () => {
    const a = await account("cr-meta");
    const other = await account("cr-meta");
    const made = await creds("cr-meta", a.id, "one");
    await creds("cr-meta", a.id, "two");
    await creds("cr-meta", other.id, "three");
    const got = await f.api<Creds>("cr-meta", "nats-credentials.get", { nats_credentials_id: made.id });
    assertReplySchema("nats-credentials.get", got.body);
    assert.equal(got.body.credentials, null);
    assert.equal(got.body.checksum, made.checksum);
    const list = await f.api<{ total_count: number; nats_credentials: Creds[] }>("cr-meta", "nats-credentials.list", { nats_account_id: a.id, order_by: "name_desc" });
    assertReplySchema("nats-credentials.list", list.body);
    assert.equal(list.body.total_count, 2);
    assert.deepEqual(list.body.nats_credentials.map((c) => c.name), ["two", "one"]);
    assert.equal((await f.api<{ total_count: number }>("cr-meta", "nats-credentials.list", {})).body.total_count, 3);
    const foreign = await f.api<{ resource: string }>("cr-other", "nats-credentials.get", { nats_credentials_id: made.id });
    assert.equal(foreign.code, 404);
    assert.equal(foreign.body.resource, "nats_credentials");
  });

  test("nats-credentials create - an unknown or foreign account is not_found", async () => {
    const a = await account("cr-owner");
    const r = await f.api<{ resource: string; resource_id: string }>("cr-thief", "nats-credentials.create", { nats_account_id: a.id });
    assert.equal(r.code, 404);
    assert.deepEqual([r.body.resource, r.body.resource_id], ["nats_account", a.id]);
    const long = await f.api("cr-owner", "nats-credentials.create", { nats_account_id: a.id, name: "n".repeat(501) });
    assert.equal(long.code, 400);
  });

  test("nats-credentials delete - the connected client is closed within 1 s and cannot reconnect", async () => {
    const a = await account("cr-revoke");
    const doomed = await creds("cr-revoke", a.id);
    const kept = await creds("cr-revoke", a.id);
    const nc = await client(doomed.credentials!.content);
    const other = await client(kept.credentials!.content);
    const closed = nc.closed();
    const started = Date.now();
    const r = await f.api("cr-revoke", "nats-credentials.delete", { nats_credentials_id: doomed.id });
    assert.deepEqual([r.code, r.body], [undefined, {}]);
    const reason = await closed;
    assert.ok(Date.now() - started < 1000, `closed after ${Date.now() - started} ms`);
    assert.match(String(reason), /revoked/i);
    await assert.rejects(connectWithCreds(f.server.url, doomed.credentials!.content, { reconnect: false }), /Authorization Violation|revoked/i);
    assert.equal(other.isClosed(), false, "other credentials of the account stay connected");
    await other.flush();
    const again = await f.api("cr-revoke", "nats-credentials.delete", { nats_credentials_id: doomed.id });
    assert.equal(again.code, 404);
    assert.equal((await f.api("cr-revoke", "nats-credentials.get", { nats_credentials_id: doomed.id })).code, 404);
  });

  test("nats-accounts delete - connections closed, reconnect refused, stream data gone, get 404", async () => {
    const a = await account("cr-acct-del");
    const c = await creds("cr-acct-del", a.id);
    const nc = await client(c.credentials!.content);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "EVENTS", subjects: ["events.>"] });
    const js = jetstream(nc);
    for (let i = 0; i < 20; i++) await js.publish("events.x", new Uint8Array(1024));
    const kv = await new Kvm(nc).create("cfg");
    await kv.put("a", "b");
    // nats-server keeps account data under <store_dir>/jetstream/<account>.
    const storeDir = join(f.dataDir, DataFile.jetstreamDir, "jetstream", a.id);
    assert.ok(filesUnder(storeDir).length > 0, "the account has stream files");

    const closed = nc.closed();
    const r = await f.api("cr-acct-del", "nats-accounts.delete", { nats_account_id: a.id });
    assert.deepEqual([r.code, r.body], [undefined, {}]);
    await closed;
    await assert.rejects(connectWithCreds(f.server.url, c.credentials!.content, { reconnect: false }));
    await check(() => filesUnder(storeDir).filter((p) => statSync(p).size > 0).length === 0, 5000);
    assert.equal((await f.api("cr-acct-del", "nats-accounts.get", { nats_account_id: a.id })).code, 404);
    assert.equal((await f.api("cr-acct-del", "nats-credentials.get", { nats_credentials_id: c.id })).code, 404);
    assert.equal(await f.mnq.resolver.lookup(a.id), null, "the resolver no longer serves the account");
    assert.equal((await f.api("cr-acct-del", "nats-accounts.delete", { nats_account_id: a.id })).code, 404);
    // The place in the project is free again.
    const project = await f.mnq.store.projects.get("cr-acct-del");
    assert.deepEqual(project?.value.accounts, []);
  });

  test("store - the raw KV contents hold no seed and no creds file, and match the record schemas", async () => {
    const a = await account("cr-raw");
    await creds("cr-raw", a.id);
    const { jetstreamManager: jsmOf } = await import("@nats-io/jetstream");
    const jsm = await jsmOf(f.mnq.nc);
    const schemas: Record<string, string> = {
      [BucketName.accounts]: "AccountRecord",
      [BucketName.credentials]: "CredentialsRecord",
      [BucketName.projects]: "ProjectRecord",
    };
    for (const [bucket, def] of Object.entries(schemas)) {
      const info = await jsm.streams.info(`KV_${bucket}`);
      const check = validator(`urn:mnq:records#/definitions/${def}`);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(`KV_${bucket}`, { seq }).catch(() => null);
        if (!m || m.data.length === 0) continue;
        const text = m.string();
        assert.doesNotMatch(text, SEED_OR_CREDS, `${bucket} seq ${seq}`);
        assert.ok(check(JSON.parse(text)), `${bucket} seq ${seq}: ${JSON.stringify(check.errors)}`);
      }
    }
  });

  test("store - the data dir's secret files stay 0600 after use", () => {
    for (const file of [DataFile.adminCreds, DataFile.masterKey, DataFile.operatorSigningSeed]) {
      assert.equal(statSync(join(f.dataDir, file)).mode & 0o777, 0o600, file);
      assert.ok(readFileSync(join(f.dataDir, file), "utf8").length > 0);
    }
  });
});
