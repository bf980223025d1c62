import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { DataFile } from "../service/bootstrap/index.ts";
import { parseCreds } from "../service/identity/index.ts";
import type { MnqService } from "../service/main.ts";
import { BucketName } from "../service/store/index.ts";
import { closedWithin } from "./helpers/check.ts";
import { callApi, callApiRetrying, connectWithCreds, type MnqClusterFixture, startMnqCluster } from "./helpers/mnq.ts";
import type { Cluster } from "./helpers/servers.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

describe("cluster", () => {
  let f: MnqClusterFixture;
  let dir: string;
  let cluster: Cluster;
  let admin: NatsConnection;
  let mnq: MnqService;
  const open = connectionsOfSuite();
  before(async () => {
    f = await startMnqCluster({}, (c) => c.urls[0]!);
    ({ dir, cluster, admin, mnq } = f);
  });
  after(async () => {
    await open.closeAll();
    await f?.stop();
  });

  test("cluster - 3 nodes, R3 buckets; an account created through one node serves clients (and JetStream) on every node at once", async () => {
    const info = await (await jetstreamManager(mnq.nc)).streams.info(`KV_${BucketName.accounts}`);
    assert.equal(info.config.num_replicas, 3);
    assert.equal(info.cluster?.replicas?.length, 2);
    assert.equal(await mnq.resolver.serverCount(true), 3);

    const account = await callApi<{ id: string }>(admin, "mnq.api.v1.cl.nats-accounts.create", { name: "everywhere" });
    assert.equal(account.code, undefined);
    const creds = await callApi<{ credentials: { content: string } }>(admin, "mnq.api.v1.cl.nats-credentials.create", { nats_account_id: account.body.id });
    for (const url of cluster.urls) {
      const nc = await connectWithCreds(url, creds.body.credentials.content, { reconnect: false });
      const who = (await nc.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
      assert.equal(who.data.account, account.body.id, url);
      // the JWT with its JetStream limits reached this node's resolver before create answered
      const limits = (await (await jetstreamManager(nc)).getAccountInfo()).limits;
      assert.equal(limits.max_storage, mnq.ctx.cfg.quota.storageBytes, url);
      await nc.close();
    }
  });

  test("cluster - the callout answers on every node: API keys and nkeys, and a delete closes connections on other nodes", async () => {
    const key = JSON.parse(readFileSync(join(dir, DataFile.adminApiKey), "utf8")) as { access_key: string; secret_key: string };
    const viaNode3 = await connect({ servers: cluster.urls[2]!, user: key.access_key, pass: key.secret_key, reconnect: false });
    open.keep(viaNode3);
    const pk = await callApi<{ access_key: string; secret_key: string }>(viaNode3, "mnq.admin.v1.api-keys.create", { project_id: "cl-callout" });
    assert.equal(pk.code, undefined);
    const project = await connect({ servers: cluster.urls[1]!, user: pk.body.access_key, pass: pk.body.secret_key, reconnect: false });
    open.keep(project);
    const account = await callApi<{ id: string }>(project, "mnq.api.v1.cl-callout.nats-accounts.create", {});
    assert.equal(account.code, undefined, account.message);
    const creds = await callApi<{ id: string; credentials: { content: string } }>(project, "mnq.api.v1.cl-callout.nats-credentials.create", {
      nats_account_id: account.body.id,
    });
    const seed = new TextEncoder().encode(parseCreds(creds.body.credentials.content).seed);
    const nk = await connect({ servers: cluster.urls[2]!, authenticator: nkeyAuthenticator(seed), reconnect: false });
    open.keep(nk);
    const who = (await nk.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
    assert.equal(who.data.account, account.body.id);
    const closed = closedWithin(nk, 2000);
    const del = await callApi(project, "mnq.api.v1.cl-callout.nats-credentials.delete", { nats_credentials_id: creds.body.id });
    assert.equal(del.code, undefined);
    await closed;
  });

  // Last: it takes a node down.
  test("cluster - with a node killed, creates still answer (two resolver acks); the node serves the account when it returns", async () => {
    const before = await mnq.store.accounts.list("cl.*");
    assert.equal(await mnq.resolver.push(before[0]!.value.jwt), 3);
    await cluster.nodes[2]!.kill();
    // while the streams whose leader was on that node elect another, calls may answer 503 or time out
    const account = await callApiRetrying<{ id: string }>(admin, "mnq.api.v1.cl.nats-accounts.create", { name: "while-down" });
    assert.equal(account.code, undefined, account.message);
    assert.equal(await mnq.resolver.serverCount(true), 2);
    const creds = await callApiRetrying<{ credentials: { content: string } }>(admin, "mnq.api.v1.cl.nats-credentials.create", {
      nats_account_id: account.body.id,
    });
    assert.equal(creds.code, undefined, creds.message);

    const back = await cluster.restart(2);
    const nc = await connectWithCreds(back.url, creds.body.credentials.content, { reconnect: false });
    open.keep(nc);
    const who = (await nc.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
    assert.equal(who.data.account, account.body.id);
  });

  test("cluster - a list of the resolvers' accounts asked as a node dies answers with the others' lists, without waiting for the dead one", async () => {
    assert.equal(await mnq.resolver.serverCount(true), 3);
    await cluster.nodes[1]!.kill();
    // the count of servers still says 3: the list must not wait its whole timeout (120 s) for the third
    const started = performance.now();
    const { lists, held } = await mnq.resolver.claimCounts();
    const tookMs = performance.now() - started;
    assert.equal(lists, 2);
    assert.ok(held.size > 0, "the two live resolvers listed their accounts");
    assert.ok(tookMs < 30_000, `answered in ${Math.round(tookMs)} ms`);
    await cluster.restart(1);
  });
});
