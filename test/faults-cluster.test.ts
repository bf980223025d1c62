import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  busiest,
  type FaultFigures,
  type FaultWorld,
  type Identity,
  killNode,
  killThenRejoin,
  makeIdentities,
  measureFault,
  placement,
  restartNode,
  startFaultWorld,
  stepDownLeaders,
} from "./helpers/fault-world.ts";

/**
 * What a client sees through each fault, measured without retries (`npm run bench:faults` runs the
 * same faults three times and prints the figures). The bounds here are looser than the figures the
 * bench shows, so that a busy machine slows the suite without failing it; what must never happen
 * (an existing identity refused, a deleted one admitted) has no slack.
 */
describe("faults on the 3-node cluster with two instances: every instance decides from a current copy", () => {
  let world: FaultWorld;
  let ids: { key: Identity; cred: Identity; account: string; project: string };
  before(async () => {
    world = await startFaultWorld();
    const made = await makeIdentities(world, "fx");
    ids = { ...made, project: "fx" };
  });
  after(async () => {
    await world?.stop();
  });

  const judge = (f: FaultFigures, t: { diagnostic(m: string): void }) => {
    t.diagnostic(JSON.stringify(f));
    // A connect whose callout request crossed the node as it died is lost (sent within 250 ms of the
    // kill, answered by the server's 2 s auth timeout): how many depends on the machine's speed.
    // Every other refusal of an existing identity fails the test.
    assert.equal(f.existing.refused, 0, "no identity made before the fault is refused (but a request lost with the node)");
    assert.ok(f.existing.tried > 100, "the login load was on");
    assert.equal(f.deleted.refused, f.deleted.tried, "a credential deleted after the fault is refused by every instance");
    assert.ok(f.newKeyLoginS < 15 && f.newCredLoginS < 15, `new identities log in (${f.newKeyLoginS} s, ${f.newCredLoginS} s)`);
    assert.ok(f.getListS < 15, `get and list answer 200 (${f.getListS} s)`);
  };

  for (const i of [0, 1, 2]) {
    test(`faults - SIGKILL of node n${i + 1}, then its restart: existing identities never refused, new ones log in, a deleted one is refused`, async (t) => {
      t.diagnostic(`before: ${JSON.stringify(await placement(world))}`);
      const [killed, rejoined] = await killThenRejoin(world, ids, i);
      judge(killed, t);
      judge(rejoined, t);
    });
  }

  test("faults - stepdown of every KV stream leader and of the meta leader under 50 connects/s", async (t) => {
    judge(await measureFault(world, "stepdowns", ids, () => stepDownLeaders(world)), t);
  });

  test("faults - SIGKILL of the server an instance is connected to: it reconnects elsewhere, its copies follow", async (t) => {
    const where = await placement(world);
    const i = busiest(where.instanceConnections);
    t.diagnostic(`instance connections: ${JSON.stringify(where.instanceConnections)}; killing n${i + 1}`);
    try {
      judge(await measureFault(world, `kill n${i + 1} (an instance's server)`, ids, () => killNode(world, i)), t);
    } finally {
      await restartNode(world, i);
    }
  });
});
