import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Authenticator, NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { NKeyPair, parseCreds } from "../service/identity/index.ts";
import { DataFile } from "../service/bootstrap/index.ts";
import { waitForJetStream } from "../service/server/cluster.ts";
import { type RunningInstance, startInstance } from "../service/server/instance.ts";
import { check } from "./helpers/check.ts";
import { assertConsistent } from "./helpers/consistency.ts";
import { bounded, connectRetrying, type CreateOutcome, createRetrying } from "./helpers/load.ts";
import { callApi, connectWithCreds } from "./helpers/mnq.ts";
import { openProbe, type Probe } from "./helpers/probe.ts";
import { type Cluster, freshDataDir, removeDir, startCluster } from "./helpers/servers.ts";

const CREATES = 200;
const CONNECTS = 200;
const IN_FLIGHT = 20;
const PROJECTS = 40;
const LOAD_CONNECTS = 1000;
const LOAD_IN_FLIGHT = 100;

describe("scale-out: two mnq instances on the 3-node cluster of deploy/cluster", () => {
  let dir: string;
  let cluster: Cluster;
  const instances: RunningInstance[] = [];
  let admin: NatsConnection;
  let key: { access_key: string; secret_key: string };
  let probe: Probe;
  const env = { MNQ_KV_REPLICAS: "3", MNQ_RECONCILE_MS: "1000", MNQ_LOG_LEVEL: "silent" };
  const instance = () => startInstance({ dataDir: dir, servers: cluster.urls, env });

  before(async () => {
    dir = freshDataDir();
    cluster = await startCluster(dir);
    await waitForJetStream(dir, cluster.urls);
    instances.push(await instance());
    instances.push(await instance());
    admin = await connectWithCreds(cluster.urls, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
    key = JSON.parse(readFileSync(join(dir, DataFile.adminApiKey), "utf8")) as typeof key;
    probe = await openProbe(dir, cluster.urls, 3);
  });
  after(async () => {
    await probe?.close();
    await admin?.close();
    await Promise.all(instances.map((i) => i.stop()));
    await cluster?.stop();
    removeDir(dir);
  });

  /** 200 creates over 40 projects and 200 callout connects at once; `fault` runs after 50 creates answered. */
  /** When creates were retried and the fault struck: shown if the accounts do not add up. */
  const log: string[] = [];
  const load = async (tag: string, fault: () => Promise<void>) => {
    let answered = 0;
    let connected = 0;
    let faulted: Promise<void> | undefined;
    const progress = setInterval(() => process.stderr.write(`load ${tag}: ${answered}/${CREATES} creates, ${connected}/${CONNECTS} connects\n`), 5000);
    const [creates, connects] = await Promise.all([
      bounded(CREATES, IN_FLIGHT, async (i) => {
        // A create waits past a node's death (resolver acks, a KV leader election), well within 30 s:
        // a shorter timeout could retry a create still under way and make the account twice.
        const outcome = await createRetrying(admin, `${tag}-${i % PROJECTS}`, `a-${i}`, 90_000, 30_000);
        if (outcome.attempts > 1) log.push(`${tag}-${i % PROJECTS}/a-${i} attempts ${outcome.attempts} (${outcome.trail.join(", ")}) done ${new Date().toISOString()}`);
        if (++answered === 50) {
          log.push(`fault at ${new Date().toISOString()}`);
          faulted = fault();
        }
        return outcome;
      }),
      bounded(CONNECTS, IN_FLIGHT, async () => {
        const attempts = await connectRetrying(cluster.urls, key.access_key, key.secret_key, 90_000);
        connected++;
        return attempts;
      }),
    ]).finally(() => clearInterval(progress));
    await faulted;
    return { creates, connects };
  };

  /** KV ⇔ reservations ⇔ every resolver; no account twice; each answered account has creds that connect on `servers`. */
  const assertEveryAccountUsable = async (creates: CreateOutcome[], servers: string[]) => {
    assert.deepEqual(creates.filter((c) => !c.id), [], "every create was answered 200 (after retries)");
    await check(() => assertConsistent(probe, dir), 30_000, 250);
    const tag = creates[0]!.project.split("-")[0]!;
    const answered = new Set(creates.map((c) => c.id!));
    // The probe reads KV by direct gets, which a replica that has just come back may answer
    // before it has caught up: the records are read again until they agree, 30 s at most.
    const accounted = async () => {
      const records = (await probe.store.accounts.list(">")).map((r) => r.value).filter((r) => !r.kind);
      const mine = records.filter((r) => r.project_id.startsWith(`${tag}-`));
      const extra = mine.filter((r) => !answered.has(r.id)).map((r) => `${r.project_id}/${r.name} ${r.created_at}`);
      const lost = [...answered].filter((id) => !mine.some((r) => r.id === id));
      assert.deepEqual({ extra, lost }, { extra: [], lost: [] }, `exactly the answered accounts exist: none lost, none twice (retries: ${log.join("; ")})`);
      return true;
    };
    await check(accounted, 30_000, 500).catch(accounted);
    await bounded(creates.length, IN_FLIGHT, async (i) => {
      const { project, id } = creates[i]!;
      const creds = await callApi<{ credentials: { content: string } }>(admin, `mnq.api.v1.${project}.nats-credentials.create`, { nats_account_id: id });
      assert.equal(creds.code, undefined, creds.message);
      const nc = await connectWithCreds(servers, creds.body.credentials.content, { reconnect: false });
      // nats-server answers this itself (no mnq on the way): a busy machine may take past the 1 s default
      const who = (await nc.request("$SYS.REQ.USER.INFO", "", { timeout: 10_000 })).json<{ data: { account: string } }>();
      assert.equal(who.data.account, id);
      await nc.close();
    });
  };

  test("scale-out - both instances serve API calls and callouts ($SRV.STATS shows both)", async () => {
    const lists = await bounded(40, 10, (i) => callApi(admin, `mnq.api.v1.both-${i % 4}.nats-accounts.list`, {}));
    assert.deepEqual(lists.filter((r) => r.code !== undefined), []);
    const connects = await bounded(40, 10, () => connectRetrying(cluster.urls, key.access_key, key.secret_key, 10_000));
    assert.ok(connects.every((n) => n === 1), "every connect was accepted at once");

    const stats: { id: string; endpoints: { subject: string; num_requests: number }[] }[] = [];
    for await (const m of await admin.requestMany("$SRV.STATS.mnq", "", { strategy: "count", maxMessages: 2, maxWait: 5000 })) stats.push(m.json());
    assert.equal(stats.length, 2, "two instances answer");
    for (const s of stats) {
      const api = s.endpoints.filter((e) => e.subject.startsWith("mnq.api.")).reduce((n, e) => n + e.num_requests, 0);
      const callout = s.endpoints.find((e) => e.subject === "$SYS.REQ.USER.AUTH")?.num_requests ?? 0;
      assert.ok(api > 0, `instance ${s.id} served API calls`);
      assert.ok(callout > 0, `instance ${s.id} served callouts`);
    }
  });

  test(`scale-out - ${LOAD_CONNECTS} connects through the callout (credential nkeys and API keys alternating), ${LOAD_IN_FLIGHT} in flight: zero failures`, async (t) => {
    const account = await callApi<{ id: string }>(admin, "mnq.api.v1.load.nats-accounts.create", {});
    const creds = await callApi<{ credentials: { content: string } }>(admin, "mnq.api.v1.load.nats-credentials.create", { nats_account_id: account.body.id });
    // Nonces are signed with node:crypto (as the bench does): the load generator must not be the bottleneck.
    const user = NKeyPair.fromSeed(parseCreds(creds.body.credentials.content).seed, "user");
    const nkey: Authenticator = (nonce?: string) => ({ nkey: user.getPublicKey(), sig: Buffer.from(user.sign(Buffer.from(nonce ?? ""))).toString("base64url") });
    const started = Date.now();
    const outcomes = await bounded(LOAD_CONNECTS, LOAD_IN_FLIGHT, async (i) => {
      try {
        const auth = i % 2 === 0 ? { authenticator: nkey } : { user: key.access_key, pass: key.secret_key };
        const nc = await connect({ servers: cluster.urls, reconnect: false, timeout: 10_000, ...auth });
        nc.publish("load.ping", "x");
        await nc.flush();
        await nc.close();
        return "ok";
      } catch (err) {
        return String(err);
      }
    });
    t.diagnostic(`${LOAD_CONNECTS} connects in ${Date.now() - started} ms`);
    assert.deepEqual(outcomes.filter((o) => o !== "ok").slice(0, 5), [], "every connect succeeded");
  });

  test("scale-out - SIGKILL of one instance under 200 creates and 200 connects: every create answered once, every account consistent", async (t) => {
    const victim = instances[0]!;
    const { creates, connects } = await load("ik", () => victim.kill());
    assert.equal((await victim.exited).signal, "SIGKILL");
    t.diagnostic(`creates retried: ${creates.filter((c) => c.attempts > 1).length}; connects retried: ${connects.filter((n) => n > 1).length}`);
    await assertEveryAccountUsable(creates, cluster.urls);
    instances[0] = await instance();
  });

  test("scale-out - SIGKILL of one nats-server under the same load: the others keep serving; once back it serves every account", async (t) => {
    const { creates, connects } = await load("nk", () => cluster.nodes[2]!.kill());
    t.diagnostic(`creates retried: ${creates.filter((c) => c.attempts > 1).length}; connects retried: ${connects.filter((n) => n > 1).length}`);
    await cluster.restart(2);
    await assertEveryAccountUsable(creates, [cluster.urls[2]!]);
  });
});
