import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, mock, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { DataFile } from "../service/bootstrap/index.ts";
import { NKeyPair, parseCreds } from "../service/identity/index.ts";
import { AdmissionGate } from "../service/revocation/index.ts";
import type { RunningServer } from "../service/server/launcher.ts";
import { type RunningInstance, startInstance } from "../service/server/instance.ts";
import { BucketName, type RecordBucket, VIEWED_BUCKETS } from "../service/store/index.ts";
import { check } from "./helpers/check.ts";
import { loginOnce } from "./helpers/fault-world.ts";
import { bounded } from "./helpers/load.ts";
import { callApi, connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";
import { freePort, freshDataDir, removeDir, startNode } from "./helpers/servers.ts";

type Creds = { id: string; credentials: { content: string } };
type Key = { access_key: string; secret_key: string };

describe("admission gate: a fence ends when the copy holds the delete, never on a timer", () => {
  test("gate - a fenced owner stays refused 6 minutes and a day later while the copy has not applied the delete, and is let go once it has", () => {
    let applied = 10;
    const gate = new AdmissionGate((bucket) => (bucket === BucketName.credentialKeys ? applied : 0));
    mock.timers.enable({ apis: ["Date"], now: Date.now() });
    try {
      gate.block(["UOWNER"], { bucket: BucketName.credentialKeys, revision: 12 });
      assert.equal(gate.blocked("UOWNER"), true);
      mock.timers.tick(6 * 60_000);
      assert.equal(gate.blocked("UOWNER"), true, "6 minutes later");
      mock.timers.tick(24 * 3600_000);
      assert.equal(gate.blocked("UOWNER"), true, "a day later");
      applied = 11;
      assert.equal(gate.blocked("UOWNER"), true, "one revision short");
      applied = 12;
      assert.equal(gate.blocked("UOWNER"), false, "the copy holds the delete: the copy refuses it by itself");
      assert.equal(gate.size.blocked, 0, "and the fence is gone");
    } finally {
      mock.timers.reset();
    }
  });
});

describe("views: copies that heal themselves (one node)", () => {
  let f: MnqFixture;
  let svc: NatsConnection;
  before(async () => {
    f = await startMnq({ MNQ_METRICS_PORT: "0" });
    svc = await connectWithCreds(f.server.url, readFileSync(join(f.dataDir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
  });
  after(async () => {
    await svc.close();
    await f.stop();
  });

  const metric = async (name: string) => {
    const text = await (await fetch(`http://127.0.0.1:${f.mnq.metricsPort}/metrics`)).text();
    return text.split("\n").filter((l) => l.startsWith(name));
  };
  const resets = async (bucket: string) =>
    (await metric("mnq_view_resets_total"))
      .filter((l) => l.includes(`bucket="${bucket}"`))
      .reduce((n, l) => n + Number(l.split(" ").pop()), 0);

  test("views - the consumers that feed the copies deleted (as when their node dies): the first login of a key and a credential made right after succeeds, each copy is made anew with no gap", async (t) => {
    const project = "fr-consumers";
    const account = (await f.api<{ id: string }>(project, "nats-accounts.create", {})).body.id;
    const before = await resets(BucketName.credentialKeys);
    const jsm = await jetstreamManager(svc);
    let deleted = 0;
    for (const bucket of VIEWED_BUCKETS) {
      for await (const c of jsm.consumers.list(`KV_${bucket}`)) {
        await jsm.consumers.delete(`KV_${bucket}`, c.name);
        deleted++;
      }
    }
    assert.equal(deleted, 5, "one consumer feeds each copy");
    const started = performance.now();
    const key = (await callApi<Key>(f.admin, "mnq.admin.v1.api-keys.create", { project_id: project })).body;
    const creds = (await f.api<Creds>(project, "nats-credentials.create", { nats_account_id: account })).body;
    // one try each, as a client that does not retry
    assert.equal(await loginOnce(f.server.url, { kind: "api_key", user: key.access_key, pass: key.secret_key }), "ok");
    assert.equal(await loginOnce(f.server.url, { kind: "nkey", creds: creds.credentials.content, id: creds.id }), "ok");
    t.diagnostic(`both logged in ${(performance.now() - started).toFixed(0)} ms after the consumers were deleted`);
    // every copy is made anew and then holds exactly what KV holds
    await check(async () => (await resets(BucketName.credentialKeys)) > before, 10_000, 100);
    const store = f.mnq.store;
    const views = f.mnq.views;
    const pairs: [RecordBucket<unknown>, { applied: number; read(key: string): Promise<unknown> }][] = [
      [store.apiKeys, views.apiKeys],
      [store.credentialKeys, views.credentialKeys],
      [store.credentials, views.credentials],
      [store.accounts, views.accounts],
      [store.projects, views.projects],
    ];
    for (const [bucket, view] of pairs) {
      await check(async () => view.applied === (await bucket.lastSequence()), 10_000, 100);
      // (before the key listing below, which leaves a consumer of its own)
      assert.equal((await jsm.streams.info(`KV_${bucket.name}`)).state.consumer_count, 1, `${bucket.name}: one consumer feeds the copy, none is left behind`);
      // (what a view keeps of a record: all of it, but an account's JWT, which no reader of the copy uses)
      const kept = (v: unknown) => (bucket === store.accounts && v !== null && typeof v === "object" ? { ...v, jwt: undefined } : v);
      for (const key of await bucket.keys(">")) {
        const held = await view.read(key);
        if (bucket === store.accounts) assert.equal(held !== null && typeof held === "object" && "jwt" in held, false, `${key}: the copy holds no JWT`);
        assert.deepEqual(kept(held), kept((await bucket.get(key))?.value ?? null), `${bucket.name}: ${key} reads as KV holds it`);
      }
    }
  });

  test("views - a copy whose consumer is gone and cannot be made again (as while the meta leader is elected) catches up by direct gets", async () => {
    const project = "fr-catch-up";
    const account = (await f.api<{ id: string }>(project, "nats-accounts.create", {})).body.id;
    const bucket = f.mnq.store.credentialKeys;
    const view = f.mnq.views.credentialKeys;
    const consumers = bucket.jsm.consumers;
    const add = consumers.add.bind(consumers);
    // credentials the copy holds (each looked up once), deleted while no consumer can feed it
    const made = await bounded(20, 5, async () => (await f.api<Creds>(project, "nats-credentials.create", { nats_account_id: account })).body);
    const userKey = (c: Creds) => NKeyPair.fromSeed(parseCreds(c.credentials.content).seed, "user").getPublicKey();
    for (const c of made) assert.ok(await view.readWithin(userKey(c)), "held");
    consumers.add = () => Promise.reject(new Error("no meta leader (injected)"));
    try {
      const jsm = await jetstreamManager(svc);
      for await (const c of jsm.consumers.list(`KV_${bucket.name}`)) await jsm.consumers.delete(`KV_${bucket.name}`, c.name);
      const doomed = [...made];
      await bounded(20, 5, async () => (await f.api(project, "nats-credentials.delete", { nats_credentials_id: doomed.shift()!.id })).code);
      await check(async () => view.applied === (await bucket.lastSequence()), 10_000, 100);
      for (const c of made) assert.equal(view.held(userKey(c)), undefined, "each delete reached the copy");
      assert.equal((await jsm.streams.info(`KV_${bucket.name}`)).state.consumer_count, 0, "no consumer fed it");
    } finally {
      consumers.add = add;
    }
    await check(async () => (await jetstreamManager(svc).then((j) => j.streams.info(`KV_${bucket.name}`))).state.consumer_count === 1, 10_000, 100);
  });

  test("views - lag and resets are exported for every viewed bucket from the start", async () => {
    const lag = await metric("mnq_view_lag_seconds");
    for (const bucket of VIEWED_BUCKETS) {
      assert.ok(lag.some((l) => l.startsWith(`mnq_view_lag_seconds{bucket="${bucket}"} 0`)), `${bucket}: ${lag.join("\n")}`);
      assert.ok((await metric(`mnq_view_resets_total{bucket="${bucket}",reason="stalled"}`)).length === 1);
    }
    const ready = await fetch(`http://127.0.0.1:${f.mnq.metricsPort}/readyz`);
    assert.equal(ready.status, 200);
  });

  test("nats-accounts update - 50 concurrent renames of one account: each 200 answers with the name its own request set", async () => {
    const project = "fr-renames";
    const id = (await f.api<{ id: string }>(project, "nats-accounts.create", {})).body.id;
    const replies = await bounded(50, 50, (i) => f.api<{ name: string }>(project, "nats-accounts.update", { nats_account_id: id, name: `name${i}` }));
    const wrong = replies.map((r, i) => (r.code === undefined && r.body.name !== `name${i}` ? `name${i} answered ${r.body.name}` : "")).filter(Boolean);
    assert.deepEqual(replies.filter((r) => r.code !== undefined).map((r) => r.code), [], "every update answered 200");
    assert.deepEqual(wrong, []);
  });

  test("store - a revision-checked change whose reads come from a replica that never catches up still lands (the leader is asked after a conflict)", async () => {
    const store = f.mnq.store;
    await store.projects.modify("fr-stale", () => ({ project_id: "fr-stale", accounts: [] }));
    const stale = await store.projects.get("fr-stale");
    await store.projects.modify("fr-stale", (cur) => ({ ...cur!.value, accounts: ["A1"] }));
    // every direct get answers the old revision, as a lagging follower would
    const bucket = store.projects;
    const get = bucket.get.bind(bucket);
    bucket.get = async () => stale;
    try {
      const written = await bucket.modify("fr-stale", (cur) => ({ ...cur!.value, accounts: [...cur!.value.accounts, "A2"] }));
      assert.deepEqual(written?.value.accounts, ["A1", "A2"]);
    } finally {
      bucket.get = get;
    }
    assert.deepEqual((await store.projects.latest("fr-stale"))?.value.accounts, ["A1", "A2"]);
  });
});

describe("views: a frozen copy (fault switch) is known, reported and not trusted", () => {
  let dir: string;
  let server: RunningServer;
  let instance: RunningInstance;
  let admin: NatsConnection;
  let metricsPort: number;
  before(async () => {
    dir = freshDataDir();
    server = await startNode(dir);
    metricsPort = await freePort();
    instance = await startInstance({
      dataDir: dir,
      servers: [server.url],
      env: { MNQ_TEST_FAULT: `freeze-view:${BucketName.credentialKeys}`, MNQ_METRICS_PORT: String(metricsPort), MNQ_LOG_LEVEL: "silent" },
    });
    admin = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
  });
  after(async () => {
    await admin?.close();
    await instance?.stop();
    await server?.stop();
    removeDir(dir);
  });

  test("views - a copy that stops applying: /readyz 503 names its bucket, its lag passes 2 s, a credential made meanwhile logs in, a deleted one is refused at once and after", async (t) => {
    const project = "fr-frozen";
    const api = <T>(op: string, body: unknown) => callApi<T>(admin, `mnq.api.v1.${project}.${op}`, body);
    const account = (await api<{ id: string }>("nats-accounts.create", {})).body.id;
    const made = await api<Creds>("nats-credentials.create", { nats_account_id: account });
    assert.equal(made.code, undefined, made.message);
    // the frozen copy never shows it: the callout reads through to KV
    const who = { kind: "nkey" as const, creds: made.body.credentials.content, id: made.body.id };
    assert.equal(await loginOnce(server.url, who), "ok", "a credential made after the freeze logs in");
    const readyz = async () => {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
      return { status: r.status, text: await r.text() };
    };
    const notReady = await check<{ status: number; text: string } | undefined>(async () => {
      const r = await readyz();
      return r.status === 503 ? r : undefined;
    }, 10_000, 100);
    assert.ok(notReady);
    assert.match(notReady.text, new RegExp(`behind: ${BucketName.credentialKeys}`));
    const lagLine = (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())
      .split("\n")
      .find((l) => l.startsWith(`mnq_view_lag_seconds{bucket="${BucketName.credentialKeys}"}`))!;
    assert.ok(Number(lagLine.split(" ").pop()) > 2, lagLine);
    t.diagnostic(`${notReady.text.trim()}; ${lagLine}`);
    // deleted: refused at once and still refused later, though the copy never applies the delete
    const del = await api("nats-credentials.delete", { nats_credentials_id: made.body.id });
    assert.equal(del.code, undefined, del.message);
    assert.equal(await loginOnce(server.url, who), "refused");
    await new Promise((r) => setTimeout(r, 3000)); // time passing: longer than any read-through or sync window
    assert.equal(await loginOnce(server.url, who), "refused");
  });
});


