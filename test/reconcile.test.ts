import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DataFile, loadTrust } from "../service/bootstrap/index.ts";
import { accountJwt, NKeyPair } from "../service/identity/index.ts";
import { accountLimits } from "../service/quota/index.ts";
import { createLogger } from "../service/runtime/log.ts";
import { startService } from "../service/main.ts";
import { Store } from "../service/store/index.ts";
import { check, deferrer } from "./helpers/check.ts";
import { callApi, connectWithCreds, testConfig } from "./helpers/mnq.ts";
import { freshDataDir, removeDir, startNode } from "./helpers/servers.ts";

test("reconcile - a server that lost its resolver directory serves every account again once mnq starts", async (t) => {
  const defer = deferrer(t);
  const dir = freshDataDir();
  defer(() => removeDir(dir));
  const cfg = testConfig(dir);
  let server = await startNode(dir);
  let mnq = await startService(cfg, createLogger("silent"), server.url);
  const adminCreds = readFileSync(join(dir, DataFile.adminCreds), "utf8");
  let admin = await connectWithCreds(server.url, adminCreds);
  const account = (await callApi<{ id: string }>(admin, "mnq.api.v1.rec.nats-accounts.create", {})).body;
  const creds = (await callApi<{ credentials: { content: string } }>(admin, "mnq.api.v1.rec.nats-credentials.create", { nats_account_id: account.id })).body;
  const doomed = (await callApi<{ id: string }>(admin, "mnq.api.v1.rec.nats-accounts.create", { name: "doomed" })).body;
  // A delete that stopped half-way: the record is marked, nothing else happened.
  const key = Store.accountKey("rec", doomed.id);
  await mnq.store.accounts.modify(key, (cur) => (cur ? { ...cur.value, state: "deleting" } : null));
  await admin.close();
  await mnq.stop();
  await server.stop();

  rmSync(join(dir, DataFile.resolverDir), { recursive: true, force: true });
  server = await startNode(dir);
  defer(() => server.stop());
  await assert.rejects(connectWithCreds(server.url, creds.credentials.content, { reconnect: false }), "unknown before the reconcile");

  mnq = await startService(cfg, createLogger("silent"), server.url);
  defer(() => mnq.stop());
  await mnq.reconciled;
  const nc = await connectWithCreds(server.url, creds.credentials.content, { reconnect: false });
  const who = (await nc.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
  assert.equal(who.data.account, account.id);
  await nc.close();

  assert.equal(await mnq.store.accounts.get(key), null, "the half-done delete was completed");
  assert.equal(await mnq.resolver.lookup(doomed.id), null);
  admin = await connectWithCreds(server.url, adminCreds);
  defer(() => admin.close());
  const list = await callApi<{ total_count: number }>(admin, "mnq.api.v1.rec.nats-accounts.list", {});
  assert.equal(list.body.total_count, 1);
  const project = await mnq.store.projects.get("rec");
  assert.deepEqual(project?.value.accounts, [account.id]);
});

test("reconcile - a changed storage quota re-issues every account JWT at start", async (t) => {
  const defer = deferrer(t);
  const dir = freshDataDir();
  defer(() => removeDir(dir));
  const server = await startNode(dir);
  defer(() => server.stop());
  let mnq = await startService(testConfig(dir), createLogger("silent"), server.url);
  const admin = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
  const account = (await callApi<{ id: string }>(admin, "mnq.api.v1.quota.nats-accounts.create", {})).body;
  await admin.close();
  await mnq.stop();
  mnq = await startService(testConfig(dir, { MNQ_ACCOUNT_STORAGE_BYTES: "1048576" }), createLogger("silent"), server.url);
  defer(() => mnq.stop());
  await mnq.reconciled;
  const served = await mnq.resolver.lookup(account.id);
  const claims = JSON.parse(Buffer.from(served!.split(".")[1]!, "base64url").toString()) as { nats: { limits: { disk_storage: number } } };
  assert.equal(claims.nats.limits.disk_storage, 1_048_576);
});

test("reconcile - in steady state, a JWT missing from the resolvers comes back and a JWT with no record goes", async (t) => {
  const defer = deferrer(t);
  const dir = freshDataDir();
  defer(() => removeDir(dir));
  const server = await startNode(dir);
  defer(() => server.stop());
  const mnq = await startService(testConfig(dir, { MNQ_RECONCILE_MS: "200" }), createLogger("silent"), server.url);
  defer(() => mnq.stop());
  const admin = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
  defer(() => admin.close());
  const account = (await callApi<{ id: string }>(admin, "mnq.api.v1.steady.nats-accounts.create", {})).body;

  // Lost from the resolvers behind mnq's back: pushed again within a round or two.
  assert.equal(await mnq.resolver.delete([account.id]), 1);
  await check(async () => (await mnq.resolver.lookup(account.id)) !== null, 5000, 50);

  // A JWT of this operator that no record describes (a create that died after its push, with its
  // record gone): deleted once seen in two rounds.
  const stray = NKeyPair.create("account");
  const trust = loadTrust(dir);
  const jwt = accountJwt({ name: "stray", account: stray.getPublicKey(), signingKeys: [], limits: accountLimits(mnq.ctx.cfg.quota) }, trust.operatorSigner);
  assert.equal(await mnq.resolver.push(jwt), 1);
  assert.ok(await mnq.resolver.lookup(stray.getPublicKey()));
  await check(async () => (await mnq.resolver.lookup(stray.getPublicKey())) === null, 5000, 50);
  assert.ok(await mnq.resolver.lookup(account.id), "the recorded account stays");
});
