import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { DataFile } from "../service/bootstrap/index.ts";
import { connectWithCreds } from "./helpers/mnq.ts";
import { freePort, freshDataDir, removeDir, startCluster } from "./helpers/servers.ts";

/** The server ids the node `sys` is connected to has routes to (its ROUTEZ, asked as the system user). */
async function routedTo(sys: NatsConnection): Promise<Set<string>> {
  const m = await sys.request(`$SYS.REQ.SERVER.${sys.info!.server_id}.ROUTEZ`, "", { timeout: 2000 });
  const routes = m.json<{ data: { routes?: { remote_id: string }[] } }>().data.routes ?? [];
  return new Set(routes.map((r) => r.remote_id));
}

/** A system user's connection to each of `urls` (no reconnect: each stays on its node). */
async function systemUsers(urls: string[], dataDir: string): Promise<NatsConnection[]> {
  const creds = readFileSync(join(dataDir, DataFile.sysCreds), "utf8");
  return Promise.all(urls.map((url) => connectWithCreds([url], creds, { reconnect: false })));
}

test("test clusters - a node of one stopped and its route port taken by another's: its peers' routes do not join the two", async () => {
  const [dirA, dirB] = [freshDataDir(), freshDataDir()];
  const portsA = await Promise.all([freePort(), freePort(), freePort()]);
  const a = await startCluster(dirA, portsA);
  let b: Awaited<ReturnType<typeof startCluster>> | undefined;
  const open: NatsConnection[] = [];
  try {
    await a.nodes[2]!.kill();
    // A's n1 and n2 keep asking for a route on A's n3's port, where B's first node now listens
    b = await startCluster(dirB, [portsA[2]!, await freePort(), await freePort()]);
    const [onA, onB] = [await systemUsers(a.urls.slice(0, 2), dirA), await systemUsers(b.urls, dirB)];
    open.push(...onA, ...onB);
    const idsOfB = new Set(onB.map((nc) => nc.info!.server_id));
    // B forms its own cluster; over the same time A's routes are retried (once a second) several times
    const until = Date.now() + 5000;
    let bFormed = false;
    while (Date.now() < until) {
      for (const nc of onA) {
        const fromA = await routedTo(nc);
        assert.deepEqual([...fromA].filter((id) => idsOfB.has(id)), [], "no route from one of A's nodes to one of B's");
      }
      bFormed ||= (await routedTo(onB[1]!)).size === 2;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(bFormed, "B's nodes route to each other");
  } finally {
    await Promise.all(open.map((nc) => nc.close()));
    await b?.stop();
    await a.stop();
    removeDir(dirA);
    removeDir(dirB);
  }
});
