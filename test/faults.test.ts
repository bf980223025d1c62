import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { DataFile } from "../service/bootstrap/index.ts";
import { FaultPoint } from "../service/runtime/faults.ts";
import { createLogger } from "../service/runtime/log.ts";
import { type MnqService, startService } from "../service/main.ts";
import type { RunningServer } from "../service/server/launcher.ts";
import { startInstance } from "../service/server/instance.ts";
import { Store } from "../service/store/index.ts";
import { check, closedWithin } from "./helpers/check.ts";
import { assertConsistent } from "./helpers/consistency.ts";
import { callApi, connectWithCreds, testConfig } from "./helpers/mnq.ts";
import { freshDataDir, removeDir, startNode } from "./helpers/servers.ts";

// An instance (its own process) is killed with SIGKILL at a point inside create or delete; a new
// instance is started on the same data dir and server, and its reconcile must leave no half state.
describe("faults: SIGKILL inside account create and delete", () => {
  let dir: string;
  let server: RunningServer;
  let admin: NatsConnection;
  let svcNc: NatsConnection;
  let sysNc: NatsConnection;
  // KV as the service user sees it: to check the half state a fault left (the buckets exist once
  // the first instance has started).
  let kv: () => Promise<Store>;
  before(async () => {
    dir = freshDataDir();
    server = await startNode(dir);
    admin = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
    svcNc = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
    sysNc = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.sysCreds), "utf8"));
    kv = () => Store.open(svcNc, { replicas: 1 });
  });
  after(async () => {
    await svcNc.close();
    await sysNc.close();
    await admin.close();
    await server.stop();
    removeDir(dir);
  });

  const faulty = (point: string) => startInstance({ dataDir: dir, servers: [server.url], env: { MNQ_TEST_FAULT: point, MNQ_LOG_LEVEL: "silent" } });
  const recovered = () => startService(testConfig(dir, { MNQ_RECONCILE_MS: "200" }), createLogger("silent"), server.url);
  const create = (project: string) => callApi<{ id: string }>(admin, `mnq.api.v1.${project}.nats-accounts.create`, { name: "crash" });

  const createPoints = [FaultPoint.createReserved, FaultPoint.createRecorded, FaultPoint.createPushed];
  for (const point of createPoints) {
    test(`faults - create killed at ${point}: the restarted service undoes it, and the project can create again`, async () => {
      const project = `f-${point.replace(".", "-")}`;
      const instance = await faulty(point);
      await assert.rejects(admin.request(`mnq.api.v1.${project}.nats-accounts.create`, "{}", { timeout: 3000 }), /timeout/i);
      assert.equal((await instance.exited).signal, "SIGKILL");
      // The half state this point leaves: a place reserved; then a `creating` record; then its JWT pushed.
      const store = await kv();
      const [held] = (await store.projects.get(project))?.value.accounts ?? [];
      assert.ok(held, "a place is reserved");
      const record = await store.accounts.get(Store.accountKey(project, held));
      assert.equal(record?.value.state, point === FaultPoint.createReserved ? undefined : "creating");
      const served = (await sysNc.request(`$SYS.REQ.ACCOUNT.${held}.CLAIMS.LOOKUP`, "")).string();
      assert.equal(served.startsWith("eyJ"), point === FaultPoint.createPushed, "the JWT is on the resolver only after the push");

      let mnq: MnqService | undefined;
      try {
        mnq = await recovered();
        const svc = mnq;
        await svc.reconciled;
        await check(() => assertConsistent(svc, dir), 10_000, 100);
        assert.deepEqual((await svc.store.projects.get(project))?.value.accounts ?? [], [], "no place is held");
        assert.equal((await svc.store.accounts.list(`${project}.*`)).length, 0, "no record is left");
        const again = await create(project);
        assert.equal(again.code, undefined, again.message);
        await assertConsistent(svc, dir);
      } finally {
        await mnq?.stop();
      }
    });
  }

  const deletePoints = [FaultPoint.deleteMarked, FaultPoint.deleteRevoked, FaultPoint.deleteUnpublished];
  for (const point of deletePoints) {
    test(`faults - delete killed at ${point}: the restarted service completes it`, async () => {
      const project = `f-${point.replace(".", "-")}`;
      const instance = await faulty(point);
      const account = await create(project);
      assert.equal(account.code, undefined, account.message);
      const creds = await callApi<{ credentials: { content: string } }>(admin, `mnq.api.v1.${project}.nats-credentials.create`, {
        nats_account_id: account.body.id,
      });
      const client = await connectWithCreds(server.url, creds.body.credentials.content, { reconnect: false });
      const closed = closedWithin(client, 20_000);
      await assert.rejects(admin.request(`mnq.api.v1.${project}.nats-accounts.delete`, JSON.stringify({ nats_account_id: account.body.id }), { timeout: 3000 }), /timeout/i);
      assert.equal((await instance.exited).signal, "SIGKILL");
      const left = await (await kv()).accounts.get(Store.accountKey(project, account.body.id));
      assert.equal(left?.value.state, "deleting", "the delete stopped half-way");

      let mnq: MnqService | undefined;
      try {
        mnq = await recovered();
        const svc = mnq;
        await svc.reconciled;
        await check(() => assertConsistent(svc, dir), 10_000, 100);
        assert.equal(await svc.store.accounts.get(Store.accountKey(project, account.body.id)), null, "the record is gone");
        assert.equal(await svc.resolver.lookup(account.body.id), null, "the JWT is gone");
        assert.equal((await svc.store.credentials.list(`${project}.>`)).length, 0, "the credentials are gone");
        await closed;
        await assert.rejects(connectWithCreds(server.url, creds.body.credentials.content, { reconnect: false }), "the credentials are refused");
      } finally {
        await mnq?.stop();
      }
    });
  }
});

test("stop - every request the instance took before a stop is answered", async (t) => {
  const dir = freshDataDir();
  const server = await startNode(dir);
  t.after(async () => {
    await server.stop();
    removeDir(dir);
  });
  const mnq = await startService(testConfig(dir), createLogger("silent"), server.url);
  const admin = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
  t.after(() => admin.close());
  let answered = 0;
  const calls = Array.from({ length: 20 }, (_, i) =>
    callApi<{ id: string }>(admin, `mnq.api.v1.stop-${i}.nats-accounts.create`, {}, 15_000).finally(() => answered++),
  );
  // Every request has reached the instance (being handled, or answered) before it is told to stop.
  await check(() => mnq.inFlight.size + answered >= calls.length && mnq.inFlight.size > 0, 10_000, 1);
  const inFlight = mnq.inFlight.size;
  await mnq.stop();
  const replies = await Promise.all(calls);
  t.diagnostic(`${inFlight} requests in flight at the stop`);
  assert.deepEqual(replies.filter((r) => r.code !== undefined || !r.body.id), [], "all answered 200");
});
