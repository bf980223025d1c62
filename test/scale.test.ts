import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DataFile } from "../service/bootstrap/index.ts";
import { parseCreds } from "../service/identity/index.ts";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { Store } from "../service/store/index.ts";
import { bounded } from "./helpers/load.ts";
import { connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";

type Creds = { id: string; name: string; credentials: { content: string } };
const ACCOUNTS = 10;
const PER_ACCOUNT = 5000;
const P = "sc-fleet";

/**
 * 50,000 credentials made through the API on an instance whose copies hold at most 16 MiB (about
 * two accounts' worth): lists, bounds and logins stay exact when most records are not in memory.
 */
describe("scale: 50,000 credentials through the API, 16 MiB of held records", () => {
  let f: MnqFixture;
  const accounts: string[] = [];
  const sample: Creds[] = [];

  before(async () => {
    f = await startMnq({ MNQ_CACHE_MIB: "16" });
    for (let a = 0; a < ACCOUNTS; a++) accounts.push((await f.api<{ id: string }>(P, "nats-accounts.create", { name: `a${a}` })).body.id);
    const failed = await bounded(ACCOUNTS * PER_ACCOUNT, 32, async (i) => {
      // one account after the other, as a fill does: the account being filled stays held
      const r = await f.api<Creds>(P, "nats-credentials.create", { nats_account_id: accounts[Math.floor(i / PER_ACCOUNT)], name: `c${i}` });
      if (r.code === undefined && i % 250 === 0) sample.push(r.body);
      return r.code;
    });
    assert.deepEqual(failed.filter((c) => c !== undefined).slice(0, 3), [], "every create answered 200");
  });
  after(async () => {
    await f.stop();
  });

  test("scale - each account lists exactly its 5,000 and the project 50,000; a walk of one account's pages meets each once", async () => {
    for (const a of accounts) assert.equal((await f.api<{ total_count: number }>(P, "nats-credentials.list", { nats_account_id: a, page_size: 1 })).body.total_count, PER_ACCOUNT);
    assert.equal((await f.api<{ total_count: number }>(P, "nats-credentials.list", { page_size: 1 })).body.total_count, ACCOUNTS * PER_ACCOUNT);
    const seen = new Set<string>();
    for (let page = 1; page <= PER_ACCOUNT / 100; page++) {
      const r = await f.api<{ nats_credentials: { id: string }[] }>(P, "nats-credentials.list", { nats_account_id: accounts[0], page, page_size: 100, order_by: "name_asc" });
      for (const c of r.body.nats_credentials) seen.add(c.id);
    }
    assert.equal(seen.size, PER_ACCOUNT);
  });

  test("scale - the bound on credentials and revocations holds exactly: the 5,001st create answers 429", async () => {
    const r = await f.api(P, "nats-credentials.create", { nats_account_id: accounts[1] });
    assert.equal(r.code, 429);
  });

  test("scale - the held records stay within MNQ_CACHE_MIB, and credentials not held log in by nkey", async () => {
    const { bytes, maxBytes, evictions } = f.mnq.cache();
    assert.ok(bytes <= maxBytes, `${bytes} bytes held, bound ${maxBytes}`);
    assert.ok(evictions > 0, "the lists above did not fit: some groups were let go of");
    const outcomes = await bounded(sample.length, 10, async (i) => {
      const nc = await connect({ servers: f.server.url, authenticator: nkeyAuthenticator(new TextEncoder().encode(parseCreds(sample[i]!.credentials.content).seed)), reconnect: false });
      await nc.close();
      return "ok";
    });
    assert.equal(outcomes.length, sample.length);
  });

  test("scale - a deleted credential leaves the lists and is refused by nkey, whichever instance held it", async () => {
    const doomed = sample.slice(0, 20);
    for (const c of doomed) assert.equal((await f.api(P, "nats-credentials.delete", { nats_credentials_id: c.id })).code, undefined);
    assert.equal((await f.api<{ total_count: number }>(P, "nats-credentials.list", { page_size: 1 })).body.total_count, ACCOUNTS * PER_ACCOUNT - doomed.length);
    for (const c of doomed) {
      const seed = new TextEncoder().encode(parseCreds(c.credentials.content).seed);
      await assert.rejects(connect({ servers: f.server.url, authenticator: nkeyAuthenticator(seed), reconnect: false }), /authorization/i);
    }
  });

  test("scale - the fleet count walks the index in batches and counts what is live: deletes' markers left out, whatever the batch", async () => {
    const nc = await connectWithCreds(f.server.url, readFileSync(join(f.dataDir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
    try {
      const store = await Store.open(nc, { replicas: 1 });
      const live = ACCOUNTS * PER_ACCOUNT - 20; // the test before deleted 20
      for (const batch of [1000, 4999, 100_000]) assert.equal(await store.credentialKeys.countLive(batch), live, `batches of ${batch}`);
      let rests = 0;
      assert.equal(await store.credentialKeys.countLive(20_000, async () => void rests++, 64 * 1024 * 1024), live);
      assert.equal(rests, 2, "three batches, a rest between two");
      // a batch stops at its byte bound, and the walk goes on from where it stopped
      let cuts = 0;
      assert.equal(await store.credentialKeys.countLive(100_000, async () => void cuts++, 16 * 1024), live, "batches cut at 16 KiB");
      assert.ok(cuts > 1, `${cuts} rests: the byte bound did not cut the batches`);
      // a walk that reads the records goes on past a batch cut by its byte bound, too
      let walked = 0;
      let walkCuts = 0;
      for await (const e of store.credentialKeys.scan("", 100_000, async () => void walkCuts++, 64 * 1024)) if (e.value !== null) walked++;
      assert.equal(walked, live);
      assert.ok(walkCuts > 1, `${walkCuts} rests: the byte bound did not cut the walk's batches`);
    } finally {
      await nc.close();
    }
  });

  test("scale - a batched read of keys tells which hold a record: deleted and never written ones do not, over more keys than one request takes", async () => {
    const nc = await connectWithCreds(f.server.url, readFileSync(join(f.dataDir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
    try {
      const store = await Store.open(nc, { replicas: 1 });
      const keyOf = (c: Creds) => fromSeed(new TextEncoder().encode(parseCreds(c.credentials.content).seed)).getPublicKey();
      const deleted = sample.slice(0, 20).map(keyOf); // the test before the count's deleted these
      const live = sample.slice(20).map(keyOf);
      const never = Array.from({ length: 1500 }, () => createUser().getPublicKey());
      const held = await store.credentialKeys.holding([...never.slice(0, 700), ...deleted, ...live, ...never.slice(700)]);
      assert.deepEqual([...held].sort(), [...live].sort());
      assert.equal((await store.credentialKeys.holding(never.slice(0, 5))).size, 0, "none of them");
      assert.equal((await store.credentialKeys.holding([])).size, 0);
    } finally {
      await nc.close();
    }
  });
});
