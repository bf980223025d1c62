import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { parseCreds } from "../service/identity/index.ts";
import { Store } from "../service/store/index.ts";
import { check } from "./helpers/check.ts";
import { type ApiReply, assertEventSchema, assertReplySchema, callApi, connectWithCreds, type MnqClusterFixture, type MnqFixture, startMnq, startMnqCluster } from "./helpers/mnq.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

type Account = { id: string; name: string; exports: Record<string, unknown>[]; imports: Record<string, unknown>[] };
type Creds = { credentials: { content: string } };
type ErrorBody = { type: string; details?: Record<string, unknown>[] };

/** Two requests that should not be answered: no responders, or nothing within the time a served one takes many times over. */
async function unanswered(nc: NatsConnection, subject: string): Promise<void> {
  await assert.rejects(nc.request(subject, "ping", { timeout: 500 }), (err: Error) => /no responders|timeout/i.test(`${err.message} ${String(err.cause)}`));
}

/** The sharing behaviours against one deployment: `api` calls as the admin, `servers` are where clients connect. */
function sharingBehaviours(get: () => { api: <T>(project: string, op: string, body?: unknown) => Promise<ApiReply<T>>; servers: string[]; admin: NatsConnection }) {
  const open = connectionsOfSuite();
  after(async () => {
    await open.closeAll();
  });
  const account = async (project: string, name: string) => (await get().api<Account>(project, "nats-accounts.create", { name })).body;
  const creds = async (project: string, id: string) => (await get().api<Creds>(project, "nats-credentials.create", { nats_account_id: id })).body.credentials.content;
  /** A client of the account: by creds file on the first server, or by its nkey through the callout on the last. */
  const client = async (project: string, id: string, how: "creds" | "nkey"): Promise<NatsConnection> => {
    const file = await creds(project, id);
    const { servers } = get();
    const nc =
      how === "creds"
        ? await connectWithCreds(servers[0]!, file, { reconnect: false })
        : await connect({ servers: servers[servers.length - 1]!, authenticator: nkeyAuthenticator(new TextEncoder().encode(parseCreds(file).seed)), reconnect: false });
    open.keep(nc);
    return nc;
  };
  const update = <T = Account>(project: string, body: Record<string, unknown>) => get().api<T>(project, "nats-accounts.update", body);

  return { account, client, update };
}

describe("sharing between accounts (one server)", () => {
  let f: MnqFixture;
  before(async () => {
    f = await startMnq();
  });
  after(async () => {
    await f.stop();
  });
  const { account, client, update } = sharingBehaviours(() => ({ api: f.api.bind(f), servers: [f.server.url], admin: f.admin }));

  test("a service export answers an importing account's requests, for clients already connected by creds file and by nkey; nothing else crosses", async () => {
    const P = "sh-svc";
    const orders = await account(P, "orders");
    const shop = await account(P, "shop");
    const server = await client(P, orders.id, "creds");
    server.subscribe("svc.orders.>", { callback: (_e, m) => void m.respond(`done ${m.subject}`) });
    server.subscribe("private.>", { callback: (_e, m) => void m.respond("leaked") });
    await server.flush();
    const byCreds = await client(P, shop.id, "creds");
    const byNkey = await client(P, shop.id, "nkey");
    await unanswered(byCreds, "svc.orders.new");

    const exported = await update(P, { nats_account_id: orders.id, exports: [{ subject: "svc.orders.>", type: "service" }] });
    assert.equal(exported.code, undefined, JSON.stringify(exported.body));
    assertReplySchema("nats-accounts.update", exported.body);
    const imported = await update(P, { nats_account_id: shop.id, imports: [{ nats_account_id: orders.id, subject: "svc.orders.>", type: "service" }] });
    assert.equal(imported.code, undefined, JSON.stringify(imported.body));
    assert.deepEqual(imported.body.imports, [{ nats_account_id: orders.id, subject: "svc.orders.>", type: "service" }]);

    for (const nc of [byCreds, byNkey]) {
      const r = await nc.request("svc.orders.new", "x", { timeout: 5000 });
      assert.equal(r.string(), "done svc.orders.new");
      await unanswered(nc, "private.data");
    }
    // the exporter cannot reach the importer's subjects
    byCreds.subscribe("svc.shop.>", { callback: (_e, m) => void m.respond("leaked") });
    await byCreds.flush();
    await unanswered(server, "svc.shop.x");
    const got = (await f.api<Account>(P, "nats-accounts.get", { nats_account_id: orders.id })).body;
    assert.deepEqual(got.exports, [{ subject: "svc.orders.>", type: "service" }]);
    // and once the import is removed, the same open connections reach nothing of orders again
    assert.equal((await update(P, { nats_account_id: shop.id, imports: [] })).code, undefined);
    for (const nc of [byCreds, byNkey]) await unanswered(nc, "svc.orders.new");
  });

  test("a stream export reaches the importer under its local_subject; an update publishes nats-accounts.updated", async () => {
    const P = "sh-stream";
    const src = await account(P, "source");
    const dst = await account(P, "sink");
    const events: Msg[] = [];
    const sub = f.admin.subscribe(`mnq.events.v1.${P}.nats-accounts.updated`, { callback: (_e, m) => void events.push(m) });
    await f.admin.flush();
    assert.equal((await update(P, { nats_account_id: src.id, exports: [{ subject: "events.orders.*", type: "stream", name: "order events" }] })).code, undefined);
    const r = await update(P, { nats_account_id: dst.id, imports: [{ nats_account_id: src.id, subject: "events.orders.*", type: "stream", local_subject: "upstream.orders.*" }] });
    assert.equal(r.code, undefined, JSON.stringify(r.body));
    const reader = await client(P, dst.id, "nkey");
    const seen: string[] = [];
    reader.subscribe(">", { callback: (_e, m) => void seen.push(`${m.subject} ${m.string()}`) });
    await reader.flush();
    const writer = await client(P, src.id, "creds");
    writer.publish("events.orders.created", "o-1");
    writer.publish("events.payments.created", "p-1");
    await writer.flush();
    await check(() => seen.length > 0);
    await reader.flush();
    assert.deepEqual(seen, ["upstream.orders.created o-1"]);
    await f.admin.flush();
    sub.unsubscribe();
    const bodies = events.map((m) => m.json<{ nats_account_id: string }>());
    bodies.forEach((b) => assertEventSchema("nats-accounts.updated", b));
    assert.deepEqual(bodies.map((b) => b.nats_account_id), [src.id, dst.id]);
  });

  test("imports of another project's account, of what is not exported, of the wrong type, of itself, and bad exports answer 400 and change nothing", async () => {
    const P = "sh-bad";
    const a = await account(P, "a");
    const b = await account(P, "b");
    const elsewhere = await account("sh-bad-other", "x");
    await update("sh-bad-other", { nats_account_id: elsewhere.id, exports: [{ subject: "x.>", type: "service" }] });
    assert.equal((await update(P, { nats_account_id: a.id, exports: [{ subject: "a.svc.>", type: "service" }] })).code, undefined);
    const imp = (i: Record<string, unknown>) => ({ nats_account_id: b.id, imports: [i] });
    const cases: [string, Record<string, unknown>, string][] = [
      ["another project's account", imp({ nats_account_id: elsewhere.id, subject: "x.>", type: "service" }), "imports[0].nats_account_id"],
      ["an account that exists nowhere", imp({ nats_account_id: `A${"B".repeat(55)}`, subject: "x.>", type: "service" }), "imports[0].nats_account_id"],
      ["a subject not exported", imp({ nats_account_id: a.id, subject: "a.other.>", type: "service" }), "imports[0].subject"],
      ["wider than the export", imp({ nats_account_id: a.id, subject: "a.>", type: "service" }), "imports[0].subject"],
      ["the wrong type", imp({ nats_account_id: a.id, subject: "a.svc.>", type: "stream" }), "imports[0].subject"],
      ["itself", { nats_account_id: a.id, imports: [{ nats_account_id: a.id, subject: "a.svc.>", type: "service" }] }, "imports[0].nats_account_id"],
      ["a local subject with other wildcards", imp({ nats_account_id: a.id, subject: "a.svc.*", type: "service", local_subject: "local.>" }), "imports[0].local_subject"],
      ["overlapping exports", { nats_account_id: b.id, exports: [{ subject: "b.>", type: "stream" }, { subject: "b.x.*", type: "service" }] }, "exports[1].subject"],
      ["a service exported as '>'", { nats_account_id: b.id, exports: [{ subject: ">", type: "service" }] }, "exports[0].subject"],
      ["a bad subject", { nats_account_id: b.id, exports: [{ subject: "a..b", type: "stream" }] }, "exports.0.subject"],
      ["101 exports", { nats_account_id: b.id, exports: Array.from({ length: 101 }, (_, i) => ({ subject: `s${i}`, type: "stream" })) }, "exports"],
    ];
    for (const [what, body, argument] of cases) {
      const r = await update<ErrorBody>(P, body);
      assert.equal(r.code, 400, what);
      assert.equal(r.body.type, "invalid_arguments", what);
      assert.ok(JSON.stringify(r.body.details).includes(argument.split(".")[0]!), `${what}: ${JSON.stringify(r.body.details)}`);
    }
    const after = (await f.api<Account>(P, "nats-accounts.get", { nats_account_id: b.id })).body;
    assert.deepEqual([after.exports, after.imports], [[], []]);
  });

  test("a cycle of service imports is fine (each account answers the other's requests)", async () => {
    const P = "sh-cycle";
    const a = await account(P, "ping");
    const b = await account(P, "pong");
    assert.equal((await update(P, { nats_account_id: a.id, exports: [{ subject: "ping.*", type: "service" }] })).code, undefined);
    assert.equal((await update(P, { nats_account_id: b.id, exports: [{ subject: "pong.*", type: "service" }] })).code, undefined);
    assert.equal((await update(P, { nats_account_id: a.id, imports: [{ nats_account_id: b.id, subject: "pong.*", type: "service" }] })).code, undefined);
    const r = await update(P, { nats_account_id: b.id, imports: [{ nats_account_id: a.id, subject: "ping.*", type: "service" }] });
    assert.equal(r.code, undefined, JSON.stringify(r.body));
    const ca = await client(P, a.id, "creds");
    const cb = await client(P, b.id, "nkey");
    ca.subscribe("ping.*", { callback: (_e, m) => void m.respond("from a") });
    cb.subscribe("pong.*", { callback: (_e, m) => void m.respond("from b") });
    await Promise.all([ca.flush(), cb.flush()]);
    assert.equal((await cb.request("ping.1", "", { timeout: 5000 })).string(), "from a");
    assert.equal((await ca.request("pong.1", "", { timeout: 5000 })).string(), "from b");
  });

  test("removing or narrowing an imported export answers 409 naming the importers; deleting the exporter removes the imports and tells the importers", async () => {
    const P = "sh-409";
    const a = await account(P, "exporter");
    const b = await account(P, "importer");
    await update(P, { nats_account_id: a.id, exports: [{ subject: "feed.>", type: "stream" }] });
    await update(P, { nats_account_id: b.id, imports: [{ nats_account_id: a.id, subject: "feed.prices.>", type: "stream" }] });
    for (const exports of [[], [{ subject: "feed.news.>", type: "stream" }], [{ subject: "feed.>", type: "service" }]]) {
      const r = await update<ErrorBody>(P, { nats_account_id: a.id, exports });
      assert.equal(r.code, 409, JSON.stringify(exports));
      assert.deepEqual(r.body.details, [{ nats_account_id: b.id, subject: "feed.prices.>" }]);
    }
    assert.equal((await update(P, { nats_account_id: a.id, exports: [{ subject: "feed.prices.>", type: "stream" }] })).code, undefined, "narrowing to what is imported is fine");
    const events: Msg[] = [];
    const sub = f.admin.subscribe(`mnq.events.v1.${P}.>`, { callback: (_e, m) => void events.push(m) });
    await f.admin.flush();
    assert.equal((await f.api(P, "nats-accounts.delete", { nats_account_id: a.id })).code, undefined);
    const left = (await f.api<Account>(P, "nats-accounts.get", { nats_account_id: b.id })).body;
    assert.deepEqual(left.imports, []);
    await f.admin.flush();
    sub.unsubscribe();
    const types = events.map((m) => m.json<{ type: string; nats_account_id: string }>()).map((e) => `${e.type} ${e.nats_account_id}`);
    assert.deepEqual(types, [`nats-accounts.deleted ${a.id}`, `nats-accounts.updated ${b.id}`]);
  });

  test("reconcile - an import of an account a delete left behind (the instance stopped before removing it) is removed", async () => {
    const P = "sh-heal";
    const a = await account(P, "gone");
    const b = await account(P, "left");
    await update(P, { nats_account_id: a.id, exports: [{ subject: "x.>", type: "stream" }] });
    const imports = [{ nats_account_id: a.id, subject: "x.>", type: "stream" as const }];
    await update(P, { nats_account_id: b.id, imports });
    assert.equal((await f.api(P, "nats-accounts.delete", { nats_account_id: a.id })).code, undefined);
    // what a delete that stopped after the teardown leaves: the import still on the record
    await f.mnq.store.accounts.modify(Store.accountKey(P, b.id), (cur) => ({ ...cur!.value, imports }));
    assert.equal((await f.api<Account>(P, "nats-accounts.get", { nats_account_id: b.id })).body.imports.length, 1);
    const report = await f.mnq.accounts.reconcile(false);
    assert.equal(report.unlinked, 1);
    assert.deepEqual((await f.api<Account>(P, "nats-accounts.get", { nats_account_id: b.id })).body.imports, []);
  });
});

describe("sharing between accounts (3-node cluster)", () => {
  let c: MnqClusterFixture;
  before(async () => {
    c = await startMnqCluster();
  });
  after(async () => {
    await c.stop();
  });
  const api = <T>(project: string, op: string, body: unknown = {}) => callApi<T>(c.admin, `mnq.api.v1.${project}.${op}`, body);
  const { account, client, update } = sharingBehaviours(() => ({ api, servers: c.cluster.urls, admin: c.admin }));

  test("a service import answers across nodes: the responder on one node, the requester (nkey, through the callout) on another", async () => {
    const P = "sh-cluster";
    const a = await account(P, "backend");
    const b = await account(P, "frontend");
    const responder = await client(P, a.id, "creds");
    responder.subscribe("api.>", { callback: (_e, m) => void m.respond(`ok ${m.subject}`) });
    await responder.flush();
    assert.equal((await update(P, { nats_account_id: a.id, exports: [{ subject: "api.>", type: "service" }] })).code, undefined);
    assert.equal((await update(P, { nats_account_id: b.id, imports: [{ nats_account_id: a.id, subject: "api.>", type: "service", local_subject: "backend.>" }] })).code, undefined);
    const requester = await client(P, b.id, "nkey");
    // every node has the new JWTs once the update answers
    const r = await requester.request("backend.users.get", "x", { timeout: 5000 });
    assert.equal(r.string(), "ok api.users.get");
    await unanswered(requester, "api.users.get");
  });
});
