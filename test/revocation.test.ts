import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Authenticator, NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { DataFile } from "../service/bootstrap/index.ts";
import { NKeyPair, parseCreds, peekClaims } from "../service/identity/index.ts";
import { waitForJetStream } from "../service/server/cluster.ts";
import { type RunningInstance, startInstance } from "../service/server/instance.ts";
import { Store } from "../service/store/index.ts";
import { check, closedWithin } from "./helpers/check.ts";
import { bounded } from "./helpers/load.ts";
import { callApi, connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";
import { type Cluster, freshDataDir, removeDir, startCluster } from "./helpers/servers.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

type Key = { access_key: string; secret_key: string };
type Creds = { id: string; nats_account_id: string; credentials: { content: string } };

/** Signs the server's nonce natively, so that thousands of connects measure the service, not the client. */
function nkeyAuth(seed: string): Authenticator {
  const kp = NKeyPair.fromSeed(seed, "user");
  return (nonce?: string) => ({ nkey: kp.getPublicKey(), sig: Buffer.from(kp.sign(Buffer.from(nonce ?? ""))).toString("base64url") });
}

/** How many connections every server lists in `account` under the user name `user` (CONNZ, as the system user). */
async function listed(sys: NatsConnection, servers: number, account: string, user: string): Promise<number> {
  let n = 0;
  let answers = 0;
  const body = JSON.stringify({ acc: account, user, auth: true });
  for await (const m of await sys.requestMany("$SYS.REQ.SERVER.PING.CONNZ", body, { strategy: "count", maxMessages: servers, maxWait: 5000 })) {
    answers++;
    n += m.json<{ data: { connections?: unknown[] } }>().data.connections?.length ?? 0;
  }
  assert.equal(answers, servers, "every server answers CONNZ");
  return n;
}

const refused = (connecting: Promise<unknown>) => assert.rejects(connecting, (err: Error) => /authorization/i.test(err.message));

describe("revocation through the servers' connection tables (one node)", () => {
  let f: MnqFixture;
  let sys: NatsConnection;
  let adminKey: Key;
  const open = connectionsOfSuite();
  const CHURN = 8000;

  before(async () => {
    // 1,100 connections of one account read past one CONNZ page: more than the default 1,000 allowed
    f = await startMnq({ MNQ_MAX_REVOCATIONS: "12", MNQ_ACCOUNT_CONNECTIONS: "2000" });
    sys = await connectWithCreds(f.server.url, readFileSync(join(f.dataDir, DataFile.sysCreds), "utf8"));
    adminKey = JSON.parse(readFileSync(join(f.dataDir, DataFile.adminApiKey), "utf8")) as Key;
  });
  after(async () => {
    await open.closeAll();
    await sys.close();
    await f.stop();
  });

  const dial = async (opts: Record<string, unknown>) => {
    const nc = await connect({ servers: f.server.url, reconnect: false, ...opts });
    open.keep(nc);
    return nc;
  };
  const accountWithCreds = async (project: string) => {
    const a = (await f.api<{ id: string }>(project, "nats-accounts.create", {})).body;
    const c = await f.api<Creds>(project, "nats-credentials.create", { nats_account_id: a.id });
    assert.equal(c.code, undefined, c.message);
    return { account: a.id, creds: c.body, seed: parseCreds(c.body.credentials.content).seed };
  };
  /** Opens and closes `count` connections, 20 at a time; every one must be admitted. */
  const churn = async (count: number, opts: Record<string, unknown>) => {
    const failures = (
      await bounded(count, 20, async () => {
        try {
          const nc = await connect({ servers: f.server.url, reconnect: false, timeout: 10_000, ...opts });
          await nc.close();
          return null;
        } catch (err) {
          return String(err);
        }
      })
    ).filter((e) => e !== null);
    assert.deepEqual(failures.slice(0, 3), [], `all ${count} churned connects admitted`);
  };

  test(`nats-credentials delete - after ${CHURN} nkey connects churned: 200 within 10 s, open connections closed within 1 s, one revocation in the JWT`, async () => {
    const { account, creds, seed } = await accountWithCreds("rv-churn");
    await churn(CHURN, { authenticator: nkeyAuth(seed) });
    const still = await Promise.all(Array.from({ length: 5 }, () => dial({ authenticator: nkeyAuth(seed) })));
    const file = await connectWithCreds(f.server.url, creds.credentials.content, { reconnect: false });
    open.keep(file);
    const closing = Promise.all([...still, file].map((nc) => closedWithin(nc, 1000)));
    const started = Date.now();
    const r = await f.api(`rv-churn`, "nats-credentials.delete", { nats_credentials_id: creds.id });
    assert.equal(r.code, undefined, r.message);
    assert.ok(Date.now() - started < 10_000, "answered within 10 s");
    await closing;
    await refused(dial({ authenticator: nkeyAuth(seed) }));
    await refused(connectWithCreds(f.server.url, creds.credentials.content, { reconnect: false }));
    const jwt = (await f.mnq.store.accounts.get(Store.accountKey("rv-churn", account)))!.value.jwt;
    const revocations = peekClaims<{ revocations?: Record<string, number> }>(jwt).nats.revocations ?? {};
    assert.deepEqual(Object.keys(revocations), [NKeyPair.fromSeed(parseCreds(creds.credentials.content).seed, "user").getPublicKey()], "only the creds file's user is revoked");
    assert.equal(await listed(sys, 1, account, `nats-credentials-${creds.id}`), 0);
  });

  test(`api-keys delete - after ${CHURN} connects churned: 200 within 10 s, open connections closed within 1 s`, async () => {
    const key = (await callApi<Key & { project_id: string }>(f.admin, "mnq.admin.v1.api-keys.create", { project_id: "rv-key" })).body;
    await churn(CHURN, { user: key.access_key, pass: key.secret_key });
    const still = await Promise.all(Array.from({ length: 5 }, () => dial({ user: key.access_key, pass: key.secret_key })));
    const closing = Promise.all(still.map((nc) => closedWithin(nc, 1000)));
    const started = Date.now();
    const r = await callApi(f.admin, "mnq.admin.v1.api-keys.delete", { access_key: key.access_key });
    assert.equal(r.code, undefined, r.message);
    assert.ok(Date.now() - started < 10_000, "answered within 10 s");
    await closing;
    await refused(dial({ user: key.access_key, pass: key.secret_key }));
  });

  test("rotate-signing-key - retire_previous refuses the old credential's nkey and creds file, closes both, and deletes it", async () => {
    const { account, creds, seed } = await accountWithCreds("rv-retire");
    const nk = await dial({ authenticator: nkeyAuth(seed) });
    const file = await connectWithCreds(f.server.url, creds.credentials.content, { reconnect: false });
    open.keep(file);
    // a credential signed by the new key survives the retirement
    assert.equal((await f.api("rv-retire", "nats-accounts.rotate-signing-key", { nats_account_id: account })).code, undefined);
    const kept = (await f.api<Creds>("rv-retire", "nats-credentials.create", { nats_account_id: account })).body;
    const closing = Promise.all([nk, file].map((nc) => closedWithin(nc, 1000)));
    const r = await f.api<{ signing_keys: number }>("rv-retire", "nats-accounts.rotate-signing-key", { nats_account_id: account, retire_previous: true });
    assert.equal(r.code, undefined, r.message);
    assert.equal(r.body.signing_keys, 1);
    await closing;
    await refused(dial({ authenticator: nkeyAuth(seed) }));
    await refused(connectWithCreds(f.server.url, creds.credentials.content, { reconnect: false }));
    assert.equal((await f.api("rv-retire", "nats-credentials.get", { nats_credentials_id: creds.id })).code, 404, "no longer presented");
    const list = await f.api<{ nats_credentials: { id: string }[] }>("rv-retire", "nats-credentials.list", { nats_account_id: account });
    assert.deepEqual(
      list.body.nats_credentials.map((c) => c.id),
      [],
      "the credential made after the first rotation was signed by a key retired by the second",
    );
    await refused(dial({ authenticator: nkeyAuth(parseCreds(kept.credentials.content).seed) }));
    // and a new one works
    const fresh = (await f.api<Creds>("rv-retire", "nats-credentials.create", { nats_account_id: account })).body;
    await dial({ authenticator: nkeyAuth(parseCreds(fresh.credentials.content).seed) });
  });

  test("connections - the servers' tables are read past one CONNZ page (1,100 connections, two names)", async () => {
    const { account, creds, seed } = await accountWithCreds("rv-many");
    const conns = await bounded(1100, 20, () => dial({ authenticator: nkeyAuth(seed), timeout: 10_000 }));
    const name = `nats-credentials-${creds.id}`;
    // two names: the servers cannot filter by user, every connection of the account is read
    const found = await f.mnq.revoke.connections.find(account, new Set([name, "nats-credentials-none"]));
    assert.equal(found.length, 1100);
    assert.equal(new Set(found.map((c) => c.cid)).size, 1100, "no connection twice");
    assert.equal((await f.api("rv-many", "nats-credentials.delete", { nats_credentials_id: creds.id })).code, undefined);
    await check(() => conns.every((nc) => nc.isClosed()), 5000, 50);
  });

  test("nats-credentials create - credentials plus revocations are bounded (429 with the remedy); retire_previous clears the revocations", async () => {
    const { account, creds } = await accountWithCreds("rv-bound");
    const made = [creds];
    for (let i = 1; i < 12; i++) made.push((await f.api<Creds>("rv-bound", "nats-credentials.create", { nats_account_id: account })).body);
    const full = await f.api<{ type: string; message: string; details: { resource: string; quota: number; current: number }[] }>("rv-bound", "nats-credentials.create", {
      nats_account_id: account,
    });
    assert.equal(full.code, 429);
    assert.equal(full.body.type, "quotas_exceeded");
    assert.deepEqual(full.body.details, [{ resource: "nats_credentials", quota: 12, current: 12 }]);
    assert.match(full.body.message, /retire_previous/);
    // deleting frees no room (the deleted one stays revoked), but every delete succeeds
    for (const c of made.slice(0, 4)) assert.equal((await f.api("rv-bound", "nats-credentials.delete", { nats_credentials_id: c.id })).code, undefined);
    assert.equal((await f.api("rv-bound", "nats-credentials.create", { nats_account_id: account })).code, 429);
    assert.equal((await f.api("rv-bound", "nats-accounts.rotate-signing-key", { nats_account_id: account, retire_previous: true })).code, undefined);
    const rec = (await f.mnq.store.accounts.get(Store.accountKey("rv-bound", account)))!.value;
    assert.deepEqual(rec.revocations, {});
    assert.equal((await f.api("rv-bound", "nats-credentials.create", { nats_account_id: account })).code, undefined);
  });

  test("api-keys delete - deleting the admin key closes its connections within 1 s", async () => {
    const nc = await dial({ user: adminKey.access_key, pass: adminKey.secret_key });
    const closing = closedWithin(nc, 1000);
    const r = await callApi(f.admin, "mnq.admin.v1.api-keys.delete", { access_key: adminKey.access_key });
    assert.equal(r.code, undefined, r.message);
    await closing;
    await refused(dial({ user: adminKey.access_key, pass: adminKey.secret_key }));
  });
});

describe("revocation and logins on a 3-node cluster with 2 instances", () => {
  let dir: string;
  let cluster: Cluster;
  const instances: RunningInstance[] = [];
  let admin: NatsConnection;
  let sys: NatsConnection;
  let svc: NatsConnection;
  let key: Key;
  let account: string;
  let seed: string;
  const env = { MNQ_KV_REPLICAS: "3", MNQ_LOG_LEVEL: "silent" };

  before(async () => {
    dir = freshDataDir();
    cluster = await startCluster(dir);
    await waitForJetStream(dir, cluster.urls);
    // One instance on n1, one on n2: n3 is the node that will lead mnq's streams and be killed.
    for (let i = 0; i < 2; i++) instances.push(await startInstance({ dataDir: dir, servers: [cluster.urls[i]!], env }));
    admin = await connectWithCreds(cluster.urls, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
    sys = await connectWithCreds(cluster.urls, readFileSync(join(dir, DataFile.sysCreds), "utf8"));
    svc = await connectWithCreds(cluster.urls, readFileSync(join(dir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
    key = (await callApi<Key>(admin, "mnq.admin.v1.api-keys.create", { project_id: "cl" })).body;
    account = (await callApi<{ id: string }>(admin, "mnq.api.v1.cl.nats-accounts.create", {})).body.id;
    const c = await callApi<Creds>(admin, "mnq.api.v1.cl.nats-credentials.create", { nats_account_id: account });
    seed = parseCreds(c.body.credentials.content).seed;
  });
  after(async () => {
    await Promise.all([admin, sys, svc].map((nc) => nc?.close().catch(() => undefined)));
    await Promise.all(instances.map((i) => i.stop()));
    await cluster?.stop();
    removeDir(dir);
  });

  test("nats-credentials delete - with 50 connects of it in flight on 2 instances: afterwards no server lists one, and new connects are refused", async () => {
    const c = (await callApi<Creds>(admin, "mnq.api.v1.cl.nats-credentials.create", { nats_account_id: account })).body;
    const auth = nkeyAuth(parseCreds(c.credentials.content).seed);
    const admitted: NatsConnection[] = [];
    let answeredAt = 0;
    // 50 clients connect over and over (each at most 200 times) until one attempt after the delete answered.
    const workers = bounded(50, 50, async (w) => {
      for (let i = 0; i < 200; i++) {
        const afterAnswer = answeredAt > 0;
        try {
          admitted.push(await connect({ servers: cluster.urls[w % 3], reconnect: false, timeout: 5000, authenticator: auth }));
        } catch {
          // refused: the delete has begun
        }
        if (afterAnswer) return;
      }
    });
    await check(() => admitted.length >= 50, 20_000);
    const r = await callApi(admin, "mnq.api.v1.cl.nats-credentials.delete", { nats_credentials_id: c.id });
    assert.equal(r.code, undefined, r.message);
    answeredAt = Date.now();
    await workers;
    await check(async () => (await listed(sys, 3, account, `nats-credentials-${c.id}`)) === 0, 1000);
    await check(() => admitted.every((nc) => nc.isClosed()), 1000);
    await refused(connect({ servers: cluster.urls, reconnect: false, authenticator: auth }));
  });

  /** Connects every 100 ms for `ms` by API key and by nkey, without retrying; returns what each attempt met. */
  const connectEvery100ms = async (servers: string[], ms: number) => {
    const outcomes: { kind: string; ok: boolean; at: string; ms: number; error?: string }[] = [];
    const attempt = async (kind: string, opts: Record<string, unknown>) => {
      const t0 = Date.now();
      const at = new Date(t0).toISOString();
      try {
        const nc = await connect({ servers, reconnect: false, timeout: 5000, ...opts });
        await nc.flush();
        await nc.close();
        outcomes.push({ kind, ok: true, at, ms: Date.now() - t0 });
      } catch (err) {
        outcomes.push({ kind, ok: false, at, ms: Date.now() - t0, error: String(err) });
      }
    };
    const pending: Promise<void>[] = [];
    for (const end = Date.now() + ms; Date.now() < end; ) {
      pending.push(attempt("api_key", { user: key.access_key, pass: key.secret_key }), attempt("nkey", { authenticator: nkeyAuth(seed) }));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(pending);
    return outcomes;
  };

  const BUCKETS = ["mnq-accounts", "mnq-credentials", "mnq-projects", "mnq-api-keys", "mnq-credential-keys"];
  const leaderOf = async (bucket: string) => (await (await jetstreamManager(svc)).streams.info(`KV_${bucket}`)).cluster?.leader;

  test("callout - SIGKILL of the node leading every KV stream: 10 s of connects every 100 ms through the survivors, none refused, none slower than 2 s", async (t) => {
    // n3 leads them all (no instance is connected there: a request in flight on a dying node is
    // lost whatever the responder does; this is about losing JetStream leaders).
    const victim = 2;
    const placement = JSON.stringify({ placement: { preferred: "n3" } });
    for (const bucket of BUCKETS) {
      if ((await leaderOf(bucket)) !== "n3") await svc.request(`$JS.API.STREAM.LEADER.STEPDOWN.KV_${bucket}`, placement, { timeout: 5000 });
    }
    await check(async () => (await Promise.all(BUCKETS.map(leaderOf))).every((l) => l === "n3"), 15_000, 200);
    // Measure the node's loss, not the moves: both kinds of login answer at once again first.
    const quick = async (opts: Record<string, unknown>) => {
      const t0 = Date.now();
      await (await connect({ servers: cluster.urls.slice(0, 2), reconnect: false, timeout: 1000, ...opts })).close();
      return Date.now() - t0 < 500;
    };
    await check(async () => (await quick({ user: key.access_key, pass: key.secret_key })) && (await quick({ authenticator: nkeyAuth(seed) })), 20_000, 100);
    const survivors = cluster.urls.filter((_, i) => i !== victim);
    const measuring = connectEvery100ms(survivors, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = new Date().toISOString();
    await cluster.nodes[victim]!.kill();
    const outcomes = await measuring;
    const failed = outcomes.filter((o) => !o.ok);
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    t.diagnostic(`${outcomes.length} connects, ${failed.length} refused, slowest ${slowest} ms; n3 killed at ${killedAt}`);
    assert.deepEqual(failed.slice(0, 3), [], "no login refused");
    assert.ok(slowest < 2000, `slowest connect ${slowest} ms`);
    await cluster.restart(victim);
    await waitForJetStream(dir, cluster.urls);
  });

  test("callout - with mnq's KV streams leaderless (two nodes down), known identities still log in and API writes answer 503", async (t) => {
    // n1 survives, with the instance connected there; n2 (and its instance's server) and n3 go.
    await Promise.all([cluster.nodes[1]!.kill(), cluster.nodes[2]!.kill()]);
    const survivor = [cluster.urls[0]!];
    const outcomes = await connectEvery100ms(survivor, 3000);
    const failed = outcomes.filter((o) => !o.ok);
    t.diagnostic(`${outcomes.length} connects, ${failed.length} refused, slowest ${Math.max(...outcomes.map((o) => o.ms))} ms`);
    assert.deepEqual(failed.slice(0, 3), [], "every known identity logs in");
    const nc = await connect({ servers: survivor, reconnect: false, user: key.access_key, pass: key.secret_key });
    try {
      const r = await callApi(nc, "mnq.api.v1.cl.nats-credentials.create", { nats_account_id: account }, 30_000);
      assert.equal(r.code, 503, `a write answers 503 (got ${r.code}: ${r.message})`);
    } finally {
      await nc.close();
    }
  });
});
