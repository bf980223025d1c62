import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { createAccount, createUser } from "@nats-io/nkeys";
import { closedWithin } from "./helpers/check.ts";
import { assertReplySchema, connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

type Account = { id: string; name: string; signing_keys: number };
type Creds = { id: string; credentials: { content: string } };
type ErrorBody = { type: string; details?: { argument_name: string; reason: string }[]; message?: string };

const dec = new TextDecoder();

describe("nats-accounts rotate-signing-key and import", () => {
  let f: MnqFixture;
  const open = connectionsOfSuite();
  before(async () => {
    f = await startMnq();
  });
  after(async () => {
    await open.closeAll();
    await f.stop();
  });

  const connected = async (creds: Creds) => {
    const nc = await connectWithCreds(f.server.url, creds.credentials.content, { reconnect: false });
    open.keep(nc);
    return nc;
  };
  const newCreds = async (project: string, account: string) => {
    const r = await f.api<Creds>(project, "nats-credentials.create", { nats_account_id: account });
    assert.equal(r.code, undefined, r.message);
    return r.body;
  };

  test("rotate-signing-key - old credentials keep working, new ones are signed by the new key; retiring closes the old ones", async () => {
    const acc = await f.api<Account>("rot", "nats-accounts.create", { name: "rotating" });
    assert.equal(acc.body.signing_keys, 1);
    const before = await newCreds("rot", acc.body.id);
    const oldConn = await connected(before);

    const rotated = await f.api<Account>("rot", "nats-accounts.rotate-signing-key", { nats_account_id: acc.body.id });
    assert.equal(rotated.code, undefined, rotated.message);
    assertReplySchema("nats-accounts.rotate-signing-key", rotated.body);
    assert.equal(rotated.body.signing_keys, 2);
    const after = await newCreds("rot", acc.body.id);
    const issuerOf = (c: Creds) => JSON.parse(dec.decode(Buffer.from(c.credentials.content.split("\n")[1]!.split(".")[1]!, "base64url"))).iss as string;
    assert.notEqual(issuerOf(after), issuerOf(before));
    // both generations work side by side
    const newConn = await connected(after);
    await (await connected(before)).flush();
    assert.equal((await f.api<Account>("rot", "nats-accounts.get", { nats_account_id: acc.body.id })).body.signing_keys, 2);

    const oldClosed = closedWithin(oldConn, 3000);
    const retired = await f.api<Account>("rot", "nats-accounts.rotate-signing-key", { nats_account_id: acc.body.id, retire_previous: true });
    assert.equal(retired.code, undefined, retired.message);
    assert.equal(retired.body.signing_keys, 1);
    await oldClosed;
    // the second generation was signed by a key now retired too; the third works
    await assert.rejects(connectWithCreds(f.server.url, before.credentials.content, { reconnect: false }));
    await assert.rejects(connectWithCreds(f.server.url, after.credentials.content, { reconnect: false }));
    void newConn;
    await (await connected(await newCreds("rot", acc.body.id))).flush();
  });

  test("rotate-signing-key - another project's account or an unknown one is 404", async () => {
    const acc = await f.api<Account>("rot-a", "nats-accounts.create", {});
    const r = await f.api<ErrorBody>("rot-b", "nats-accounts.rotate-signing-key", { nats_account_id: acc.body.id });
    assert.equal(r.code, 404);
    const bad = await f.api<ErrorBody>("rot-a", "nats-accounts.rotate-signing-key", { nats_account_id: acc.body.id, retire_previous: "yes" });
    assert.equal(bad.code, 400);
    assert.equal(bad.body.details?.[0]?.argument_name, "retire_previous");
  });

  test("import - an existing account's seed brings it under management: credentials, JetStream quota, and it is listed", async () => {
    const kp = createAccount();
    const id = kp.getPublicKey();
    const r = await f.api<Account>("imp", "nats-accounts.import", { name: "legacy", account_id: id, private_key: dec.decode(kp.getSeed()) });
    assert.equal(r.code, undefined, r.message);
    assertReplySchema("nats-accounts.import", r.body);
    assert.equal(r.body.id, id);
    assert.equal(r.body.name, "legacy");
    assert.ok(!JSON.stringify(r.body).includes(dec.decode(kp.getSeed())), "the seed is not echoed");
    const nc = await connected(await newCreds("imp", id));
    const info = await (await jetstreamManager(nc)).getAccountInfo();
    assert.equal(info.limits.max_storage, f.mnq.ctx.cfg.quota.storageBytes);
    const list = await f.api<{ nats_accounts: Account[] }>("imp", "nats-accounts.list", {});
    assert.deepEqual(list.body.nats_accounts.map((a) => a.id), [id]);
    const again = await f.api<ErrorBody>("imp-2", "nats-accounts.import", { account_id: id, private_key: dec.decode(kp.getSeed()) });
    assert.equal(again.code, 409);
  });

  test("import - two concurrent imports of one account into a project: one succeeds, one is 409, the account stays", async () => {
    const kp = createAccount();
    const body = { account_id: kp.getPublicKey(), private_key: dec.decode(kp.getSeed()) };
    const codes = (await Promise.all([f.api("imp-race", "nats-accounts.import", body), f.api("imp-race", "nats-accounts.import", body)])).map((r) => r.code);
    assert.deepEqual(codes.sort(), [409, undefined].sort());
    const got = await f.api<Account>("imp-race", "nats-accounts.get", { nats_account_id: kp.getPublicKey() });
    assert.equal(got.code, undefined, got.message);
    const project = await f.mnq.store.projects.get("imp-race");
    assert.deepEqual(project?.value.accounts, [kp.getPublicKey()]);
  });

  test("import - one account imported 4 times at once into each of two projects: exactly one owner; once it deletes, the other project may import it", async () => {
    const kp = createAccount();
    const id = kp.getPublicKey();
    const body = { account_id: id, private_key: dec.decode(kp.getSeed()) };
    const replies = await Promise.all(["imp-own-a", "imp-own-b"].flatMap((p) => [0, 1, 2, 3].map(() => f.api(p, "nats-accounts.import", body).then((r) => ({ p, code: r.code })))));
    const won = replies.filter((r) => r.code === undefined);
    assert.equal(won.length, 1, JSON.stringify(replies));
    assert.deepEqual(replies.filter((r) => r.code !== undefined && r.code !== 409), [], "the others are 409");
    const owner = won[0]!.p;
    const other = owner === "imp-own-a" ? "imp-own-b" : "imp-own-a";
    const records = (await f.mnq.store.accounts.list(">")).filter((r) => r.value.id === id);
    assert.deepEqual(records.map((r) => [r.value.project_id, r.value.state]), [[owner, "active"]]);
    assert.equal((await f.api(other, "nats-accounts.get", { nats_account_id: id })).code, 404);
    assert.equal((await f.mnq.store.accountOwners.get(id))?.value.project_id, owner);
    // the owner's delete frees the id
    assert.equal((await f.api(owner, "nats-accounts.delete", { nats_account_id: id })).code, undefined);
    assert.equal(await f.mnq.store.accountOwners.get(id), null);
    const again = await f.api(other, "nats-accounts.import", body);
    assert.equal(again.code, undefined, again.message);
  });

  test("import - a bad key or seed is 400 naming the field, and nothing is stored", async () => {
    const kp = createAccount();
    const id = kp.getPublicKey();
    const seed = dec.decode(kp.getSeed());
    const user = createUser();
    const otherSeed = dec.decode(createAccount().getSeed());
    const flipped = id.slice(0, -1) + (id.endsWith("A") ? "B" : "A");
    const cases: [Record<string, unknown>, string][] = [
      [{ account_id: user.getPublicKey(), private_key: seed }, "account_id"],
      [{ account_id: flipped, private_key: seed }, "account_id"],
      [{ account_id: "A", private_key: seed }, "account_id"],
      [{ account_id: id, private_key: dec.decode(user.getSeed()) }, "private_key"],
      [{ account_id: id, private_key: seed.slice(0, 20) + (seed[20] === "A" ? "B" : "A") + seed.slice(21) }, "private_key"],
      [{ account_id: id, private_key: otherSeed }, "private_key"],
      [{ account_id: id }, "private_key"],
      [{ account_id: id, private_key: 42 }, "private_key"],
    ];
    for (const [body, field] of cases) {
      const r = await f.api<ErrorBody>("imp-bad", "nats-accounts.import", body);
      assert.equal(r.code, 400, JSON.stringify(body));
      assert.equal(r.body.type, "invalid_arguments");
      assert.equal(r.body.details?.[0]?.argument_name, field, JSON.stringify(body));
      assert.ok(!JSON.stringify(r.body).includes(seed), "the seed never appears in an error");
    }
    assert.deepEqual(await f.mnq.store.accounts.keys("imp-bad.*"), []);
  });
});
