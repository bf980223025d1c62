import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DataFile } from "../service/bootstrap/index.ts";
import { connectWithCreds } from "./helpers/mnq.ts";
import { freePort, freshDataDir, removeDir, startCluster } from "./helpers/servers.ts";

/** The server ids a node has routes to (its ROUTEZ, asked as the system user). */
async function routedTo(url: string, dataDir: string): Promise<Set<string>> {
  const sys = await connectWithCreds([url], readFileSync(join(dataDir, DataFile.sysCreds), "utf8"));
  try {
    const id = sys.info!.server_id;
    const m = await sys.request(`$SYS.REQ.SERVER.${id}.ROUTEZ`, "", { timeout: 2000 });
    const routes = m.json<{ data: { routes?: { remote_id: string }[] } }>().data.routes ?? [];
    return new Set(routes.map((r) => r.remote_id));
  } finally {
    await sys.close();
  }
}

test("test clusters - a node of one stopped and its route port taken by another's: its peers' routes do not join the two", async () => {
  const [dirA, dirB] = [freshDataDir(), freshDataDir()];
  const portsA = await Promise.all([freePort(), freePort(), freePort()]);
  const a = await startCluster(dirA, portsA);
  let b: Awaited<ReturnType<typeof startCluster>> | undefined;
  try {
    await a.nodes[2]!.kill();
    // A's n1 and n2 keep asking for a route on A's n3's port, where B's first node now listens
    b = await startCluster(dirB, [portsA[2]!, await freePort(), await freePort()]);
    const idsOfB = new Set<string>();
    for (const url of b.urls) {
      const nc = await connectWithCreds([url], readFileSync(join(dirB, DataFile.sysCreds), "utf8"));
      idsOfB.add(nc.info!.server_id);
      await nc.close();
    }
    // B forms its own cluster; over the same time A's routes are retried (once a second) several times
    const until = Date.now() + 5000;
    let bFormed = false;
    while (Date.now() < until) {
      for (const url of a.urls.slice(0, 2)) {
        const fromA = await routedTo(url, dirA);
        assert.deepEqual([...fromA].filter((id) => idsOfB.has(id)), [], "no route from one of A's nodes to one of B's");
      }
      bFormed ||= (await routedTo(b.urls[1]!, dirB)).size === 2;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(bFormed, "B's nodes route to each other");
  } finally {
    await b?.stop();
    await a.stop();
    removeDir(dirA);
    removeDir(dirB);
  }
});
