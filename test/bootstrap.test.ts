import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { bootstrap, DataFile, readDataFile } from "../service/bootstrap/index.ts";
import { accountJwt, NKeyPair } from "../service/identity/index.ts";
import { connectWithCreds } from "./helpers/mnq.ts";
import { freshDataDir, removeDir, startNode } from "./helpers/servers.ts";

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name), ...walk(join(dir, e.name))] : [join(dir, e.name)]));
}

test("bootstrap - the data dir is 0700 and every file in it 0600", (t) => {
  const dir = freshDataDir();
  t.after(() => removeDir(dir));
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const entries = walk(dir);
  assert.ok(entries.length >= 17);
  for (const p of entries) {
    const mode = statSync(p).mode & 0o777;
    assert.equal(mode, statSync(p).isDirectory() ? 0o700 : 0o600, p);
  }
});

test("bootstrap - a second run replaces no key and writes nothing", (t) => {
  const dir = freshDataDir();
  t.after(() => removeDir(dir));
  const before = walk(dir).filter((p) => !statSync(p).isDirectory()).map((p) => [p, readFileSync(p, "utf8")] as const);
  const again = bootstrap(dir);
  assert.equal(again.created, false);
  assert.deepEqual(again.written, []);
  for (const [p, content] of before) assert.equal(readFileSync(p, "utf8"), content, p);
});

test("bootstrap - a lost derived file is written again, and nothing else", (t) => {
  const dir = freshDataDir();
  t.after(() => removeDir(dir));
  const trust = readFileSync(join(dir, DataFile.trustConf), "utf8");
  removeDir(join(dir, DataFile.embeddedConf));
  const again = bootstrap(dir);
  assert.deepEqual(again.written, [DataFile.embeddedConf]);
  assert.equal(readFileSync(join(dir, DataFile.trustConf), "utf8"), trust);
});

test("bootstrap - a server accepts the output, the service user lands in MNQ and SYS can push a claim", async (t) => {
  const dir = freshDataDir();
  const server = await startNode(dir);
  t.after(async () => {
    await server.stop();
    removeDir(dir);
  });
  const svc = await connectWithCreds(server.url, readDataFile(dir, DataFile.serviceCreds, true));
  const sys = await connectWithCreds(server.url, readDataFile(dir, DataFile.sysCreds, true));
  t.after(async () => {
    await svc.close();
    await sys.close();
  });
  const info = (await svc.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account_name: string } }>();
  assert.equal(info.data.account_name, "MNQ");

  const account = NKeyPair.create("account");
  const token = accountJwt(
    {
      name: "pushed",
      account: account.getPublicKey(),
      signingKeys: [],
      limits: { disk_storage: 1024, mem_storage: 0, streams: -1, consumer: -1, payload: -1, conn: -1, subs: -1 },
    },
    NKeyPair.fromSeed(readDataFile(dir, DataFile.operatorSigningSeed), "operator"),
  );
  const reply = (await sys.request("$SYS.REQ.CLAIMS.UPDATE", token)).json<{ data: { code: number } }>();
  assert.equal(reply.data.code, 200);
  const served = (await sys.request(`$SYS.REQ.ACCOUNT.${account.getPublicKey()}.CLAIMS.LOOKUP`, "")).string();
  assert.equal(served, token);
});

test("bootstrap - a client with no JWT is sent to the auth callout (sentinel)", async (t) => {
  const dir = freshDataDir();
  const server = await startNode(dir);
  t.after(async () => {
    await server.stop();
    removeDir(dir);
  });
  const admin = await connectWithCreds(server.url, readDataFile(dir, DataFile.adminCreds, true));
  t.after(() => admin.close());
  const { connect } = await import("@nats-io/transport-node");
  // Nobody answers the callout yet, so the connection is refused after the server's auth timeout;
  // what matters is that it is not let in as an anonymous user.
  await assert.rejects(connect({ servers: server.url, user: "someone", pass: "secret", reconnect: false, timeout: 5000 }));
});

test("bootstrap - a changed MNQ account (here: the callout xkey turned on) is rewritten and served after a restart", async (t) => {
  const dir = freshDataDir({ calloutXkey: false });
  t.after(() => removeDir(dir));
  const mnqXkey = () => JSON.parse(Buffer.from(readDataFile(dir, DataFile.mnqJwt).split(".")[1]!, "base64url").toString()).nats.authorization.xkey;
  assert.equal(mnqXkey(), undefined);
  let server = await startNode(dir);
  await server.stop();
  const again = bootstrap(dir);
  assert.equal(again.created, false, "no key is made");
  assert.ok(again.written.includes(DataFile.mnqJwt) && again.written.includes(DataFile.trustConf));
  assert.match(mnqXkey(), /^X/);
  server = await startNode(dir);
  t.after(() => server.stop());
  const sys = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.sysCreds), "utf8"));
  t.after(() => sys.close());
  const served = (await sys.request(`$SYS.REQ.ACCOUNT.${again.mnqAccount}.CLAIMS.LOOKUP`, "")).string();
  assert.equal(served, readDataFile(dir, DataFile.mnqJwt));
});
