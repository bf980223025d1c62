import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { check } from "./helpers/check.ts";
import { assertReplySchema, callApi, type MnqFixture, startMnq } from "./helpers/mnq.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";
import { Store } from "../service/store/index.ts";

type Key = { access_key: string; secret_key: string; project_id: string; role: string; nats_account_ids: string[] | null };
type Account = { id: string; name: string };
type Creds = { id: string; nats_account_id: string; credentials: { content: string } | null };
type ErrorBody = { type: string; details?: { resource?: string; action?: string }[]; resource?: string; resource_id?: string };

describe("scoped API keys (docs/api.md \"Scoped API keys\")", () => {
  let f: MnqFixture;
  const open = connectionsOfSuite();
  const P = "scoped";
  let a1: Account;
  let a2: Account;
  let c2: Creds;

  before(async () => {
    f = await startMnq();
    a1 = (await f.api<Account>(P, "nats-accounts.create", { name: "one" })).body;
    a2 = (await f.api<Account>(P, "nats-accounts.create", { name: "two" })).body;
    c2 = (await f.api<Creds>(P, "nats-credentials.create", { nats_account_id: a2.id, name: "in-two" })).body;
  });
  after(async () => {
    await open.closeAll();
    await f.stop();
  });

  const newKey = async (body: Record<string, unknown> = {}): Promise<Key> => {
    const r = await callApi<Key>(f.admin, "mnq.admin.v1.api-keys.create", { project_id: P, ...body });
    assert.equal(r.code, undefined, JSON.stringify(r.body));
    return r.body;
  };
  const login = async (k: Key): Promise<NatsConnection> => {
    const nc = await connect({ servers: f.server.url, user: k.access_key, pass: k.secret_key, reconnect: false });
    open.keep(nc);
    return nc;
  };
  const call = <T = ErrorBody>(nc: NatsConnection, op: string, body: unknown = {}) => callApi<T>(nc, `mnq.api.v1.${P}.${op}`, body);

  test("a key is owner of the whole project unless narrowed; create and list show role and nats_account_ids", async () => {
    const plain = await newKey();
    assertReplySchema("api-keys.create", plain);
    assert.equal(plain.role, "owner");
    assert.equal(plain.nats_account_ids, null);
    const narrow = await newKey({ role: "issuer", nats_account_ids: [a1.id] });
    assert.equal(narrow.role, "issuer");
    assert.deepEqual(narrow.nats_account_ids, [a1.id]);
    const list = await callApi<{ api_keys: Key[] }>(f.admin, "mnq.admin.v1.api-keys.list", { project_id: P, page_size: 100 });
    assertReplySchema("api-keys.list", list.body);
    const shown = new Map(list.body.api_keys.map((k) => [k.access_key, k]));
    assert.deepEqual([shown.get(plain.access_key)?.role, shown.get(plain.access_key)?.nats_account_ids], ["owner", null]);
    assert.deepEqual([shown.get(narrow.access_key)?.role, shown.get(narrow.access_key)?.nats_account_ids], ["issuer", [a1.id]]);
  });

  test("a second key of the project never sees the first key's replies on _INBOX.> (creds files included)", async () => {
    const spy = await login(await newKey({ role: "reader" }));
    const seen: string[] = [];
    const sub = spy.subscribe("_INBOX.>", { callback: (_e, m) => void seen.push(m.subject) });
    await spy.flush();
    const owner = await login(await newKey());
    const made = await call<Creds>(owner, "nats-credentials.create", { nats_account_id: a1.id });
    assert.ok(made.body.credentials?.content.includes("NKEY SEED"));
    await call(owner, "nats-accounts.list");
    await spy.flush();
    assert.deepEqual(seen, []);
    sub.unsubscribe();
  });

  test("a reader lists and reads; every change answers 403 permissions_denied and changes nothing", async () => {
    const nc = await login(await newKey({ role: "reader" }));
    assert.equal((await call(nc, "nats-accounts.list")).code, undefined);
    assert.equal((await call(nc, "nats-accounts.get", { nats_account_id: a1.id })).code, undefined);
    assert.equal((await call(nc, "nats-credentials.get", { nats_credentials_id: c2.id })).code, undefined);
    const refused: [string, unknown, string, string][] = [
      ["nats-accounts.create", { name: "nope" }, "nats_account", "create"],
      ["nats-accounts.update", { nats_account_id: a1.id, name: "renamed" }, "nats_account", "update"],
      ["nats-accounts.delete", { nats_account_id: a1.id }, "nats_account", "delete"],
      ["nats-accounts.rotate-signing-key", { nats_account_id: a1.id }, "nats_account", "rotate-signing-key"],
      ["nats-credentials.create", { nats_account_id: a1.id }, "nats_credentials", "create"],
      ["nats-credentials.delete", { nats_credentials_id: c2.id }, "nats_credentials", "delete"],
    ];
    for (const [op, body, resource, action] of refused) {
      const r = await call(nc, op, body);
      assert.equal(r.code, 403, op);
      assert.equal(r.body.type, "permissions_denied", op);
      assert.deepEqual(r.body.details, [{ resource, action }], op);
    }
    const after = (await f.api<Account>(P, "nats-accounts.get", { nats_account_id: a1.id })).body;
    assert.equal(after.name, "one");
    assert.equal((await f.api(P, "nats-credentials.get", { nats_credentials_id: c2.id })).code, undefined);
    const accounts = await f.api<{ total_count: number }>(P, "nats-accounts.list");
    assert.equal(accounts.body.total_count, 2);
  });

  test("the caller identity is the server's: a Nats-Request-Info header sent by a reader changes nothing", async () => {
    const nc = await login(await newKey({ role: "reader" }));
    const h = headers();
    h.set("Nats-Request-Info", JSON.stringify({ acc: f.mnq.ctx.accounts.mnqAccount, user: "admin" }));
    const m = await nc.request(`mnq.api.v1.${P}.nats-accounts.create`, JSON.stringify({ name: "forged" }), { timeout: 10_000, headers: h });
    assert.equal(m.headers?.get("Nats-Service-Error-Code"), "403");
  });

  test("an issuer makes and deletes credentials, and cannot touch accounts", async () => {
    const nc = await login(await newKey({ role: "issuer" }));
    const made = await call<Creds>(nc, "nats-credentials.create", { nats_account_id: a1.id, name: "by-issuer" });
    assert.equal(made.code, undefined);
    assert.equal((await call(nc, "nats-credentials.delete", { nats_credentials_id: made.body.id })).code, undefined);
    assert.equal((await call(nc, "nats-accounts.usage", { nats_account_id: a1.id })).code, undefined);
    const r = await call(nc, "nats-accounts.create", {});
    assert.equal(r.code, 403);
    assert.deepEqual(r.body.details, [{ resource: "nats_account", action: "create" }]);
  });

  test("a key narrowed to an account: the others are not_found to it and left out of lists; it cannot make or remove accounts", async () => {
    const nc = await login(await newKey({ nats_account_ids: [a1.id] }));
    const list = await call<{ total_count: number; nats_accounts: Account[] }>(nc, "nats-accounts.list");
    assert.deepEqual(list.body.nats_accounts.map((a) => a.id), [a1.id]);
    assert.equal(list.body.total_count, 1);
    for (const [op, body] of [
      ["nats-accounts.get", { nats_account_id: a2.id }],
      ["nats-accounts.usage", { nats_account_id: a2.id }],
      ["nats-accounts.update", { nats_account_id: a2.id, name: "x" }],
      ["nats-credentials.create", { nats_account_id: a2.id }],
      ["nats-credentials.list", { nats_account_id: a2.id }],
    ] as const) {
      const r = await call(nc, op, body);
      assert.equal(r.code, 404, op);
      assert.deepEqual([r.body.resource, r.body.resource_id], ["nats_account", a2.id], op);
    }
    for (const op of ["nats-credentials.get", "nats-credentials.delete"]) {
      const r = await call(nc, op, { nats_credentials_id: c2.id });
      assert.equal(r.code, 404, op);
      assert.deepEqual([r.body.resource, r.body.resource_id], ["nats_credentials", c2.id], op);
    }
    assert.equal((await f.api(P, "nats-credentials.get", { nats_credentials_id: c2.id })).code, undefined, "still there");
    const creds = await call<{ nats_credentials: Creds[] }>(nc, "nats-credentials.list", { page_size: 100 });
    assert.ok(creds.body.nats_credentials.every((c) => c.nats_account_id === a1.id));
    assert.equal((await call(nc, "nats-accounts.create", {})).code, 403);
    assert.equal((await call(nc, "nats-accounts.delete", { nats_account_id: a1.id })).code, 403);
    assert.equal((await call(nc, "nats-accounts.update", { nats_account_id: a1.id, name: "own" })).code, undefined, "an owner of its account");
  });

  test("a key narrowed to accounts cannot subscribe to events; a key of the whole project can", async () => {
    const narrow = await login(await newKey({ role: "reader", nats_account_ids: [a1.id] }));
    const denied = narrow.subscribe(`mnq.events.v1.${P}.>`);
    const err = await denied.closed;
    assert.ok(err instanceof Error && /permission/i.test(err.message), "a permissions violation");
    const wide = await login(await newKey({ role: "reader" }));
    const got: string[] = [];
    wide.subscribe(`mnq.events.v1.${P}.>`, { callback: (_e, m) => void got.push(m.subject) });
    await wide.flush();
    await f.api(P, "nats-accounts.update", { nats_account_id: a2.id, name: "two-b" });
    await check(() => got.includes(`mnq.events.v1.${P}.nats-accounts.updated`));
  });

  test("create refuses account ids outside the project and a scope on an admin key (400), and never makes the key", async () => {
    const before = (await callApi<{ total_count: number }>(f.admin, "mnq.admin.v1.api-keys.list", { project_id: P })).body.total_count;
    const other = (await f.api<Account>("scoped-other", "nats-accounts.create", {})).body;
    for (const body of [
      { project_id: P, nats_account_ids: [other.id] },
      { project_id: "*", role: "reader" },
      { project_id: "*", nats_account_ids: [a1.id] },
      { project_id: P, role: "superuser" },
      { project_id: P, nats_account_ids: [] },
      { project_id: P, nats_account_ids: Array.from({ length: 101 }, () => a1.id) },
      { project_id: P, nats_account_ids: [a1.id, a1.id] },
    ]) {
      const r = await callApi<ErrorBody>(f.admin, "mnq.admin.v1.api-keys.create", body);
      assert.equal(r.code, 400, JSON.stringify(body));
      assert.equal(r.body.type, "invalid_arguments");
    }
    assert.equal((await callApi<{ total_count: number }>(f.admin, "mnq.admin.v1.api-keys.list", { project_id: P })).body.total_count, before);
  });

  test("a deleted key's own account goes with it", async () => {
    const key = await newKey();
    const own = async () => (await f.mnq.store.accounts.list(`${P}.>`)).find((r) => r.value.access_key === key.access_key) ?? null;
    assert.ok(await own(), "made with the key");
    assert.equal((await callApi(f.admin, "mnq.admin.v1.api-keys.delete", { access_key: key.access_key })).code, undefined);
    assert.equal(await own(), null);
  });

  test("reconcile - a key's account whose key was never stored (a create that died between the two) is taken down after two rounds; one whose key is stored stays", async () => {
    const kept = await newKey();
    const orphan = await f.mnq.accounts.keyAccount(P, "MNQAAAAAAAAAAAAAAAAA", true);
    const held = async () => (await f.mnq.store.accounts.get(Store.accountKey(P, orphan.id))) !== null;
    assert.ok(await held());
    await f.mnq.accounts.reconcile(false);
    assert.ok(await held(), "one round only suspects it: a create may be under way");
    const report = await f.mnq.accounts.reconcile(false);
    assert.equal(report.rolledBack, 1);
    assert.equal(await held(), false);
    await (await login(kept)).close();
  });
});
