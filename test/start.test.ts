import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import { DataFile } from "../service/bootstrap/index.ts";
import { createCurveSeed, newMasterKey, NKeyPair, parseCreds, parseMasterKey, SeedVault, XKey } from "../service/identity/index.ts";
import { createLogger } from "../service/runtime/log.ts";
import { startService } from "../service/main.ts";
import { ADMIN_PROJECT, Store } from "../service/store/index.ts";
import { calloutResponder, handOver, type MnqFixture, nkeyRequest, startMnq, testConfig } from "./helpers/mnq.ts";

type Key = { access_key: string; secret_key: string };

describe("start-up checks", () => {
  let f: MnqFixture;
  let account: string;
  let seed: string;
  before(async () => {
    f = await startMnq();
    account = (await f.api<{ id: string }>("st", "nats-accounts.create", {})).body.id;
    const c = await f.api<{ credentials: { content: string } }>("st", "nats-credentials.create", { nats_account_id: account });
    seed = parseCreds(c.body.credentials.content).seed;
  });
  after(() => f.stop());

  const adminKey = () => JSON.parse(readFileSync(join(f.dataDir, DataFile.adminApiKey), "utf8")) as Key;

  test("start - an admin key file this KV does not know is replaced by one that works, never advertised stale", async () => {
    const stale = adminKey();
    await f.mnq.store.apiKeys.delete(Store.apiKeyKey(ADMIN_PROJECT, stale.access_key)); // as if the data dir met a fresh KV
    const second = await startService(testConfig(f.dataDir), createLogger("silent"), f.server.url);
    try {
      const fresh = adminKey();
      assert.notEqual(fresh.access_key, stale.access_key);
      const nc = await connect({ servers: f.server.url, user: fresh.access_key, pass: fresh.secret_key, reconnect: false });
      await nc.close();
      // and a working one is kept as it is
      const third = await startService(testConfig(f.dataDir), createLogger("silent"), f.server.url);
      await third.stop();
      assert.equal(adminKey().access_key, fresh.access_key);
    } finally {
      await second.stop();
    }
  });

  test("start - a master key that does not open the stored seeds stops the start with one clear error", async () => {
    const starting = startService(testConfig(f.dataDir, { MNQ_MASTER_KEY: newMasterKey() }), createLogger("silent"), f.server.url);
    // (stopped should it start, so that a failure here does not keep the process alive)
    void starting.then((svc) => svc.stop(), () => undefined);
    await assert.rejects(starting, /master key .* does not open the account seeds/);
  });

  test("callout - an account seed that does not open is answered 503 (no JWT), and the instance keeps serving", async () => {
    const { responder, trust } = calloutResponder(f, { vault: new SeedVault(parseMasterKey(newMasterKey())) });
    const token = nkeyRequest(NKeyPair.fromSeed(seed, "user"));
    const r = await handOver(responder, trust, XKey.fromSeed(createCurveSeed()), token);
    assert.equal(r.code, 503);
    assert.equal((await f.api("st", "nats-accounts.get", { nats_account_id: account })).code, undefined, "the instance still answers");
  });
});
