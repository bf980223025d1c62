import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { DataFile } from "../service/bootstrap/index.ts";
import { NKeyPair } from "../service/identity/index.ts";
import { BucketName } from "../service/store/index.ts";
import { check, closedWithin } from "./helpers/check.ts";
import { bounded } from "./helpers/load.ts";
import { callApi, connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";

type Creds = { id: string; credentials: { content: string } };

/** Every tenant is a possible attacker of the others: what one can do must not reach another. */
describe("abuse: one tenant against the others", () => {
  let f: MnqFixture;
  let svc: NatsConnection;
  const open: NatsConnection[] = [];

  before(async () => {
    f = await startMnq({ MNQ_ACCOUNT_CONNECTIONS: "3", MNQ_ACCOUNT_SUBSCRIPTIONS: "20" });
    svc = await connectWithCreds(f.server.url, readFileSync(join(f.dataDir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
  });
  after(async () => {
    await Promise.all([...open, svc].map((nc) => nc.close().catch(() => undefined)));
    await f.stop();
  });

  const consumerCounts = async () => {
    const jsm = await jetstreamManager(svc);
    const counts: Record<string, number> = {};
    for (const bucket of Object.values(BucketName)) counts[bucket] = (await jsm.streams.info(`KV_${bucket}`)).state.consumer_count;
    return counts;
  };

  test("abuse - 1,000 credential create/delete cycles and 1,000 imports leave no consumer behind, and other projects' deletes still work", async () => {
    const before = await consumerCounts();
    const account = (await f.api<{ id: string }>("ab-churn", "nats-accounts.create", {})).body.id;
    const cycles = await bounded(1000, 10, async () => {
      const c = await f.api<Creds>("ab-churn", "nats-credentials.create", { nats_account_id: account });
      if (c.code !== undefined) return `create ${c.code}`;
      const d = await f.api("ab-churn", "nats-credentials.delete", { nats_credentials_id: c.body.id });
      return d.code === undefined ? "ok" : `delete ${d.code}`;
    });
    assert.deepEqual(cycles.filter((o) => o !== "ok").slice(0, 3), []);
    const imports = await bounded(1000, 10, async () => {
      const kp = NKeyPair.create("account");
      return (await f.api("ab-import", "nats-accounts.import", { account_id: kp.getPublicKey(), private_key: kp.seedString() })).code;
    });
    assert.ok(imports.filter((c) => c === 429).length > 900, "past the project's cap, imports answer 429");
    assert.deepEqual(await consumerCounts(), before, "no request left a consumer on any bucket");
    // another project's delete answers 200 and closes its connection
    const other = (await f.api<{ id: string }>("ab-victim", "nats-accounts.create", {})).body.id;
    const c = (await f.api<Creds>("ab-victim", "nats-credentials.create", { nats_account_id: other })).body;
    const nc = await connectWithCreds(f.server.url, c.credentials.content, { reconnect: false });
    open.push(nc);
    const closing = closedWithin(nc, 1000);
    assert.equal((await f.api("ab-victim", "nats-credentials.delete", { nats_credentials_id: c.id })).code, undefined);
    await closing;
  });

  test("abuse - names with control characters (NUL, ANSI escapes, BEL, bidi overrides) are refused, naming the argument", async () => {
    const account = (await f.api<{ id: string }>("ab-names", "nats-accounts.create", {})).body.id;
    for (const name of ["a\u0000b", "\u001b[31mred", "ding\u0007", "abc\u202eexe.txt"]) {
      const a = await f.api<{ details: { argument_name: string; reason: string }[] }>("ab-names", "nats-accounts.create", { name });
      assert.equal(a.code, 400);
      assert.deepEqual([a.body.details[0]?.argument_name, a.body.details[0]?.reason], ["name", "format"]);
      const c = await f.api("ab-names", "nats-credentials.create", { nats_account_id: account, name });
      assert.equal(c.code, 400);
      const k = await callApi(f.admin, "mnq.admin.v1.api-keys.create", { project_id: "ab-names", name });
      assert.equal(k.code, 400);
    }
    assert.equal((await f.api("ab-names", "nats-accounts.create", { name: "ünïcode and spaces" })).code, undefined, "printable text is fine");
  });

  test("abuse - connections and subscriptions per account are bounded (MNQ_ACCOUNT_CONNECTIONS, MNQ_ACCOUNT_SUBSCRIPTIONS)", async () => {
    const account = (await f.api<{ id: string }>("ab-limits", "nats-accounts.create", {})).body.id;
    const creds = (await f.api<Creds>("ab-limits", "nats-credentials.create", { nats_account_id: account })).body.credentials.content;
    const conns = await Promise.all([0, 1, 2].map(() => connectWithCreds(f.server.url, creds, { reconnect: false })));
    open.push(...conns);
    // the server refuses the 4th ("maximum account active connections exceeded"; the client may
    // see the socket closed under it first)
    await assert.rejects(connectWithCreds(f.server.url, creds, { reconnect: false }), /maximum.*connections|EPIPE|ECONNRESET/i);
    const nc = conns[0]!;
    const errors: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === "error") errors.push(String(s.error));
    })();
    // each client holds a subscription for its inbox already; a few dozen more pass the limit of 20
    for (let i = 0; i < 30; i++) nc.subscribe(`sub.${i}`);
    await nc.flush().catch(() => undefined);
    await check(() => errors.some((e) => /maximum subscriptions/i.test(e)) || nc.isClosed(), 5000);
  });

  test("abuse - a tenant creating a stream while its account is deleted (it watches $JS.API.STREAM.DELETE.>) leaves nothing on disk, 3 times", async () => {
    const storeDir = join(f.dataDir, DataFile.jetstreamDir);
    for (let run = 0; run < 3; run++) {
      const account = (await f.api<{ id: string }>(`ab-teardown-${run}`, "nats-accounts.create", {})).body.id;
      const c = (await f.api<Creds>(`ab-teardown-${run}`, "nats-credentials.create", { nats_account_id: account })).body;
      const tenant = await connectWithCreds(f.server.url, c.credentials.content, { maxReconnectAttempts: -1, reconnectTimeWait: 50 });
      open.push(tenant);
      const jsm = await jetstreamManager(tenant);
      await jsm.streams.add({ name: "DATA", subjects: ["data.>"], max_bytes: 1024 * 1024 });
      assert.ok(existsSync(join(storeDir, "jetstream", account, "streams", "DATA")), "the account's streams live here");
      let sneaked = 0;
      tenant.subscribe("$JS.API.STREAM.DELETE.>", {
        callback: () => {
          sneaked++;
          void jsm.streams.add({ name: `SNEAK${sneaked}`, subjects: [`sneak${sneaked}.>`], max_bytes: 1024 * 1024 }).catch(() => undefined);
        },
      });
      await tenant.flush();
      const r = await f.api(`ab-teardown-${run}`, "nats-accounts.delete", { nats_account_id: account });
      assert.equal(r.code, undefined, r.message);
      await tenant.close();
      const left = existsSync(join(storeDir, "jetstream", account)) ? readdirSync(join(storeDir, "jetstream", account, "streams")) : [];
      assert.deepEqual(left, [], `run ${run}: no stream of the deleted account is left on disk (it saw ${sneaked} deletes)`);
    }
  });
});
