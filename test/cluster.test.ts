import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { DataFile } from "../service/bootstrap/index.ts";
import { createLogger } from "../service/log.ts";
import { startService } from "../service/main.ts";
import { BucketName } from "../service/store/index.ts";
import { check, deferrer } from "./helpers/check.ts";
import { callApi, connectWithCreds, testConfig } from "./helpers/mnq.ts";
import { freshDataDir, removeDir, startCluster } from "./helpers/servers.ts";

test("cluster - 3 nodes, R3 buckets; an account created through one node serves clients on every node", async (t) => {
  const defer = deferrer(t);
  const dir = freshDataDir();
  defer(() => removeDir(dir));
  const cluster = await startCluster(dir);
  defer(() => cluster.stop());
  const admin = await connectWithCreds(cluster.urls[0]!, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
  defer(() => admin.close());
  // JetStream needs its meta leader before buckets can be made.
  const svc = await connectWithCreds(cluster.urls, readFileSync(join(dir, DataFile.serviceCreds), "utf8"));
  defer(() => svc.close());
  await check(async () => (await (await jetstreamManager(svc)).getAccountInfo()).api.total >= 0, 15_000, 200);

  const mnq = await startService(testConfig(dir, { MNQ_KV_REPLICAS: "3" }), createLogger("silent"), cluster.urls);
  defer(() => mnq.stop());
  const info = await (await jetstreamManager(mnq.nc)).streams.info(`KV_${BucketName.accounts}`);
  assert.equal(info.config.num_replicas, 3);
  assert.equal(info.cluster?.replicas?.length, 2);

  const account = await callApi<{ id: string }>(admin, "mnq.api.v1.cl.nats-accounts.create", { name: "everywhere" });
  assert.equal(account.code, undefined);
  const creds = await callApi<{ credentials: { content: string } }>(admin, "mnq.api.v1.cl.nats-credentials.create", { nats_account_id: account.body.id });
  for (const url of cluster.urls) {
    const nc = await connectWithCreds(url, creds.body.credentials.content, { reconnect: false });
    const who = (await nc.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
    assert.equal(who.data.account, account.body.id, url);
    await nc.close();
  }
});
