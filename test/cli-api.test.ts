import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { NKeyPair, parseCreds, peekClaims } from "../service/identity/index.ts";
import { projectRoot } from "../service/contract/project-root.ts";
import { connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";
import { removeDir } from "./helpers/servers.ts";

const MNQ = join(projectRoot, "bin", "mnq.mjs");

describe("mnq API commands", () => {
  let f: MnqFixture;
  let home: string;
  // Asynchronous: the service runs in this process and must keep answering while a command runs.
  const run = (...args: string[]) => runWith({}, ...args);
  const runWith = async (extra: NodeJS.ProcessEnv, ...args: string[]) => {
    const env: NodeJS.ProcessEnv = { ...process.env, MNQ_DATA_DIR: f.dataDir, XDG_CONFIG_HOME: home, MNQ_LOG_LEVEL: "silent" };
    delete env.MNQ_PROJECT;
    Object.assign(env, extra);
    // run in a scratch directory: what a command writes where it runs lands there, never in the project
    const child = spawn(process.execPath, [MNQ, ...args, ...(args.includes("--help") || args[0] === "cluster" ? [] : ["--server", f.server.url])], { env, cwd: home, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.once("close", (c) => res(c)));
    return { code, out, err };
  };
  const mode = (p: string) => statSync(p).mode & 0o777;
  before(async () => {
    f = await startMnq();
    home = mkdtempSync(join(tmpdir(), "mnq-cli-home-"));
  });
  after(async () => {
    await f.stop();
    removeDir(home);
  });

  test("mnq status - the server version, one instance and what mnq holds", async () => {
    const r = await run("status", "--json");
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out) as { instances: number; server_version_ok: boolean; nats_accounts: number; api_keys: number; servers: { name: string; version: string }[] };
    assert.equal(s.instances, 1);
    assert.equal(s.servers.length, 1);
    const table = await run("status");
    assert.match(table.out, /^NAME\s+VERSION\s+VERSION_OK\n\S+\s+\d+\.\d+\.\d+\S*\s+true$/m);
    assert.equal(s.server_version_ok, true);
    assert.equal(typeof s.nats_accounts, "number");
  });

  test("mnq account / creds / context - create, list, a 0600 creds file, and a nats context that connects", async () => {
    const created = await run("account", "create", "--project", "cli", "--name", "orders", "--json");
    assert.equal(created.code, 0, created.err);
    const id = (JSON.parse(created.out) as { id: string }).id;
    const listed = await run("account", "list", "--project", "cli");
    assert.match(listed.out, /^ID\s+NAME/m);
    assert.match(listed.out, new RegExp(`${id}\\s+orders`));

    const out = join(home, "o.creds");
    const c = await run("creds", "create", id, "--project", "cli", "--out", out);
    assert.equal(c.code, 0, c.err);
    assert.equal(mode(out), 0o600);
    assert.ok(!c.out.includes("SEED"), "the creds content is not printed");
    const held = async () => (JSON.parse((await run("creds", "list", "--project", "cli", "--account", id, "--json")).out) as { total_count: number }).total_count;
    const before = await held();
    const again = await run("creds", "create", id, "--project", "cli", "--out", out);
    assert.equal(again.code, 1);
    assert.match(again.err, /exists; pass --force/);
    writeFileSync(join(home, "named.creds"), "keep me");
    const named = await run("creds", "create", id, "--project", "cli", "--name", "named");
    assert.equal(named.code, 1, "the name says where the file goes: checked before anything is created");
    assert.equal(readFileSync(join(home, "named.creds"), "utf8"), "keep me");
    // under a file, where no directory can be made
    const unwritable = await run("creds", "create", id, "--project", "cli", "--out", join(home, "named.creds", "x.creds"));
    assert.equal(unwritable.code, 1);
    assert.match(unwritable.err, /could not write .*x\.creds.*deleted again/);
    assert.equal(await held(), before, "no credential was left on the server without its file");

    const ctx = await run("context", id, "--project", "cli", "--context", "cli-test");
    assert.equal(ctx.code, 0, ctx.err);
    const ctxFile = join(home, "nats", "context", "cli-test.json");
    const context = JSON.parse(readFileSync(ctxFile, "utf8")) as { url: string; creds: string };
    assert.equal(mode(ctxFile), 0o600);
    assert.equal(mode(context.creds), 0o600);
    const nc = await connectWithCreds(f.server.url, readFileSync(context.creds, "utf8"), { reconnect: false });
    const who = (await nc.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
    assert.equal(who.data.account, id);
    await nc.close();
    assert.equal((await run("context", id, "--project", "cli", "--context", "cli-test")).code, 1, "an existing context is not overwritten without --force");
  });

  test("mnq creds create / context / creds list - permissions and expiry from flags people type", async () => {
    const id = (JSON.parse((await run("account", "create", "--project", "cli-perm", "--json")).out) as { id: string }).id;
    const out = join(home, "limited.creds");
    const flags = ["--allow-pub", "orders.>", "--deny-pub", "orders.secret", "--allow-sub", "_INBOX.>", "--allow-responses", "--expires", "30d"];
    const c = await run("creds", "create", id, "--project", "cli-perm", "--out", out, "--json", ...flags);
    assert.equal(c.code, 0, c.err);
    const made = JSON.parse(c.out) as { permissions: unknown; expires_at: string };
    assert.deepEqual(made.permissions, { publish: { allow: ["orders.>"], deny: ["orders.secret"] }, subscribe: { allow: ["_INBOX.>"] }, allow_responses: {} });
    const days = (Date.parse(made.expires_at) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);
    const jwt = parseCreds(readFileSync(out, "utf8")).jwt;
    assert.deepEqual(peekClaims<{ pub: unknown }>(jwt).nats.pub, { allow: ["orders.>"], deny: ["orders.secret"] });

    const ctx = await run("context", id, "--project", "cli-perm", "--context", "limited", "--allow-pub", "metrics.>", "--json");
    assert.equal(ctx.code, 0, ctx.err);
    const ctxCreds = (JSON.parse(ctx.out) as { creds: string }).creds;
    assert.deepEqual(peekClaims<{ pub: unknown }>(parseCreds(readFileSync(ctxCreds, "utf8")).jwt).nats.pub, { allow: ["metrics.>"] });

    const listed = await run("creds", "list", "--project", "cli-perm");
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /^ID\s+NAME\s+NATS_ACCOUNT_ID\s+PERMISSIONS\s+EXPIRES_AT/m);
    assert.match(listed.out, /pub orders\.> !orders\.secret; sub _INBOX\.>; resp 1\s+20\d\d-/);
    assert.match(listed.out, /pub metrics\.>/);

    const bad = await run("creds", "create", id, "--project", "cli-perm", "--out", join(home, "bad.creds"), "--allow-pub", "orders..x");
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /permissions\.publish\.allow\[0\]: /);
    assert.doesNotMatch(bad.err, /permissions\.publish\.allow\[0\].*permissions\.publish\.allow\[0\]/, "the argument is named once");
    assert.doesNotMatch(bad.err, /\^\(\?:/, "no regex");
    const soon = await run("creds", "create", id, "--project", "cli-perm", "--out", join(home, "bad.creds"), "--expires", "soon");
    assert.notEqual(soon.code, 0);
    assert.match(soon.err, /expires_at/);
    assert.equal(existsSync(join(home, "bad.creds")), false);
  });

  test("mnq creds list ACCOUNT_ID, creds get, create echoing permissions and expiry, rotate-key --retire-previous saying what it retired", async () => {
    const p = ["--project", "cli-echo"];
    const id = (JSON.parse((await run("account", "create", ...p, "--json")).out) as { id: string }).id;
    const c = await run("creds", "create", id, ...p, "--out", join(home, "echo.creds"), "--allow-pub", "orders.>", "--expires", "30d");
    assert.equal(c.code, 0, c.err);
    assert.match(c.out, /^ID\s+NAME\s+PERMISSIONS\s+EXPIRES_AT\s+FILE/m);
    assert.match(c.out, /pub orders\.>\s+20\d\d-\d\d-\d\dT/);
    const credId = c.out.split("\n")[1]!.split(/\s+/)[0]!;
    // the account as a plain argument, as create takes it
    const listed = await run("creds", "list", id, ...p, "--json");
    assert.equal(listed.code, 0, listed.err);
    assert.deepEqual((JSON.parse(listed.out) as { nats_credentials: { id: string }[] }).nats_credentials.map((x) => x.id), [credId]);
    const got = await run("creds", "get", credId, ...p, "--json");
    assert.equal(got.code, 0, got.err);
    assert.deepEqual(JSON.parse(got.out), { ...(JSON.parse(got.out) as object), id: credId, nats_account_id: id, credentials: null });
    assert.match((await run("creds", "get", credId, ...p)).out, /pub orders\.>/);
    const extra = await run("creds", "list", id, "another", ...p);
    assert.notEqual(extra.code, 0);
    assert.match(extra.err, /expected \[ACCOUNT_ID\]/);

    assert.equal((await run("creds", "create", id, ...p, "--out", join(home, "echo2.creds"))).code, 0);
    const rotated = await run("account", "rotate-key", id, ...p, "--retire-previous");
    assert.equal(rotated.code, 0, rotated.err);
    assert.match(rotated.err, /retired the previous signing keys: 2 credentials signed by them deleted, their connections closed/);
    assert.equal((JSON.parse((await run("creds", "list", id, ...p, "--json")).out) as { total_count: number }).total_count, 0);
  });

  test("mnq commands - MNQ_PROJECT stands for --project", async () => {
    const made = await runWith({ MNQ_PROJECT: "cli-env" }, "account", "create", "--name", "from-env", "--json");
    assert.equal(made.code, 0, made.err);
    const listed = await run("account", "list", "--project", "cli-env");
    assert.match(listed.out, /from-env/);
    const bad = await runWith({ MNQ_PROJECT: "Not A Project" }, "account", "list");
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /MNQ_PROJECT/);
  });

  test("mnq api-key create - writes the secret to a 0600 file, never to stdout", async () => {
    const file = join(home, "k.json");
    const r = await run("api-key", "create", "--project", "cli-keys", "--out", file, "--json");
    assert.equal(r.code, 0, r.err);
    const key = JSON.parse(readFileSync(file, "utf8")) as { access_key: string; secret_key: string };
    assert.equal(mode(file), 0o600);
    assert.ok(!r.out.includes(key.secret_key));
    assert.match((await run("api-key", "list", "--project", "cli-keys")).out, new RegExp(key.access_key));
  });

  test("mnq api-key create --role issuer --account: a narrowed key; mnq context works with it, account create does not", async () => {
    const made = await run("account", "create", "--project", "cli-scope", "--name", "ci-target", "--json");
    const id = (JSON.parse(made.out) as { id: string }).id;
    const file = join(home, "issuer.json");
    const r = await run("api-key", "create", "--project", "cli-scope", "--role", "issuer", "--account", id, "--out", file, "--json");
    assert.equal(r.code, 0, r.err);
    const shown = JSON.parse(r.out) as { role: string; nats_account_ids: string[] };
    assert.deepEqual([shown.role, shown.nats_account_ids], ["issuer", [id]]);
    assert.match((await run("api-key", "list", "--project", "cli-scope")).out, /issuer/);
    const ctx = await run("context", id, "--project", "cli-scope", "--api-key", file, "--context", "issuer-ctx");
    assert.equal(ctx.code, 0, ctx.err);
    const refused = await run("account", "create", "--project", "cli-scope", "--api-key", file);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /permission denied: create on nats_account/);
    const bad = await run("api-key", "create", "--project", "cli-scope", "--role", "admin", "--out", join(home, "never.json"));
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--role must be owner, issuer or reader/);
    assert.ok(!existsSync(join(home, "never.json")));
  });

  test("mnq account update --export / --import / --file, and account get shows what is shared", async () => {
    const p = ["--project", "cli-share"];
    const id = async (name: string) => (JSON.parse((await run("account", "create", ...p, "--name", name, "--json")).out) as { id: string }).id;
    const a = await id("exporter");
    const b = await id("importer");
    const exported = await run("account", "update", a, ...p, "--export", "svc.orders.>:service", "--export", "feed.*:stream");
    assert.equal(exported.code, 0, exported.err);
    assert.match(exported.out, /EXPORTS\nSUBJECT\s+TYPE[^\n]*\nsvc\.orders\.>\s+service/);
    const imported = await run("account", "update", b, ...p, "--import", `${a}:svc.orders.new`, "--import", `${a}:feed.*:upstream.*`, "--json");
    assert.equal(imported.code, 0, imported.err);
    assert.deepEqual((JSON.parse(imported.out) as { imports: unknown[] }).imports, [
      { nats_account_id: a, subject: "svc.orders.new", type: "service" },
      { nats_account_id: a, subject: "feed.*", type: "stream", local_subject: "upstream.*" },
    ]);
    const shown = await run("account", "get", b, ...p);
    assert.match(shown.out, new RegExp(`IMPORTS\\n.*\\n${a}\\s+svc\\.orders\\.new\\s+service`));
    const narrowing = await run("account", "update", a, ...p, "--export", "feed.*:stream");
    assert.equal(narrowing.code, 1);
    assert.match(narrowing.err, /409/);
    const unknown = await run("account", "update", b, ...p, "--import", `${a}:nothing.here`);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /exports nothing that nothing\.here lies within/);
    const file = join(home, "share.json");
    writeFileSync(file, JSON.stringify({ imports: [] }));
    assert.equal((await run("account", "update", b, ...p, "--file", file)).code, 0);
    assert.equal((await run("account", "update", a, ...p, "--export", "feed.*:stream")).code, 0, "narrowing once nobody imports it");
  });

  test("mnq account get / usage / rotate-key / import / delete, creds list / delete, api-key delete", async () => {
    const json = async <T>(...args: string[]) => {
      const r = await run(...args, "--json");
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
      return JSON.parse(r.out) as T;
    };
    const p = ["--project", "cli-more"];
    const { id } = await json<{ id: string }>("account", "create", ...p, "--name", "more");
    assert.match((await run("account", "get", id, ...p)).out, new RegExp(`${id}\\s+more`));
    const usage = await json<{ storage: { quota_bytes: number } }>("account", "usage", id, ...p);
    assert.equal(usage.storage.quota_bytes, 300 * 2 ** 20);
    assert.equal((await json<{ signing_keys: number }>("account", "rotate-key", id, ...p)).signing_keys, 2);
    assert.equal((await json<{ signing_keys: number }>("account", "rotate-key", id, ...p, "--retire-previous")).signing_keys, 1);

    const file = join(home, "more.creds");
    const made = await json<{ id: string }>("creds", "create", id, ...p, "--out", file);
    assert.equal((await json<{ total_count: number }>("creds", "list", ...p, "--account", id)).total_count, 1);
    assert.equal((await run("creds", "delete", made.id, ...p)).code, 0);
    assert.equal((await json<{ total_count: number }>("creds", "list", ...p, "--account", id)).total_count, 0);

    const existing = NKeyPair.create("account");
    const seedFile = join(home, "existing.nk");
    writeFileSync(seedFile, `${existing.seedString()}\n`, { mode: 0o600 });
    const imported = await run("account", "import", existing.getPublicKey(), "--seed-file", seedFile, ...p, "--json");
    assert.equal(imported.code, 0, imported.err);
    assert.equal((JSON.parse(imported.out) as { id: string }).id, existing.getPublicKey());
    assert.ok(!imported.out.includes(existing.seedString()) && !imported.err.includes(existing.seedString()), "the seed is never printed");

    assert.equal((await run("account", "delete", id, ...p)).code, 0);
    const gone = await run("account", "get", id, ...p);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /404|not found/i);

    const keyFile = join(home, "more-key.json");
    assert.equal((await run("api-key", "create", ...p, "--out", keyFile)).code, 0);
    const { access_key } = JSON.parse(readFileSync(keyFile, "utf8")) as { access_key: string };
    assert.equal((await run("api-key", "delete", access_key)).code, 0);
    assert.doesNotMatch((await run("api-key", "list", ...p)).out, new RegExp(access_key));
  });

  test("mnq commands - help for every group, and clear errors for bad input", async () => {
    for (const group of ["account", "creds", "api-key", "context", "status", "cluster", "start", "bootstrap"]) {
      const h = await run(group, "--help");
      assert.equal(h.code, 0, group);
      assert.match(h.out, /Usage: mnq/);
    }
    const missing = await run("account", "get", "--project", "cli");
    assert.equal(missing.code, 1);
    assert.match(missing.err, /expected ACCOUNT_ID/);
    const noProject = await run("account", "list");
    assert.match(noProject.err, /--project/);
    assert.equal((await run("account", "frobnicate")).code, 2);
    const badCluster = await run("cluster", "--instances", "0");
    assert.equal(badCluster.code, 1);
    assert.match(badCluster.err, /--instances must be 1-8/);
    const notFound = await run("account", "get", "ANOTAREALACCOUNT", "--project", "cli");
    assert.equal(notFound.code, 1);
    assert.match(notFound.err, /400|404/);
    const unknownId = `A${"B".repeat(55)}`;
    const absent = await run("account", "get", unknownId, "--project", "cli");
    assert.equal(absent.code, 1);
    assert.match(absent.err, new RegExp(`404 nats account ${unknownId} not found in project cli`));
    assert.ok(!existsSync(join(home, "mnq-api-key-cli.json")));
  });
});
