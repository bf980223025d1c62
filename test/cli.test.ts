import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { DataFile } from "../service/bootstrap/index.ts";
import { check } from "./helpers/check.ts";
import { connectWithCreds } from "./helpers/mnq.ts";
import { MNQ, cleanEnv, pidAlive, runMnq, startMnqProcess as startMnq } from "./helpers/cli.ts";
import { freePort, freshDataDir, removeDir } from "./helpers/servers.ts";

test("mnq - --help lists the commands and every setting", () => {
  const r = runMnq(["--help"]);
  assert.equal(r.status, 0);
  for (const word of ["bootstrap", "start", "MNQ_DATA_DIR", "MNQ_ACCOUNT_STORAGE_BYTES"]) assert.match(r.stdout, new RegExp(word));
  assert.match(runMnq(["start", "--help"]).stdout, /Usage: mnq start/);
});

test("mnq - an unknown command exits 2 with the usage", () => {
  const r = runMnq(["frobnicate"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test("mnq - a bad setting is one clear line and exit 1", () => {
  const r = runMnq(["start"], { MNQ_NATS_PORT: "99999" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^mnq: invalid configuration: MNQ_NATS_PORT/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

test("mnq start - R3 buckets on the one-node embedded server is refused in one line, nothing started", (t) => {
  const dir = freshDataDir();
  t.after(() => removeDir(dir));
  const r = runMnq(["start"], { MNQ_DATA_DIR: dir, MNQ_KV_REPLICAS: "3" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^mnq: MNQ_KV_REPLICAS=3 needs a cluster/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.equal(existsSync(join(dir, DataFile.adminApiKey)), false, "no service ran");
});

test("mnq bootstrap - writes the data dir once, then says it is done", (t) => {
  const dir = join(freshDataDir(), "fresh");
  t.after(() => removeDir(join(dir, "..")));
  const first = runMnq(["bootstrap"], { MNQ_DATA_DIR: dir });
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /bootstrapped/);
  assert.ok(existsSync(join(dir, DataFile.adminCreds)));
  assert.match(runMnq(["bootstrap"], { MNQ_DATA_DIR: dir }).stdout, /already bootstrapped/);
});

test("mnq start - prints 'mnq ready', answers $SRV.PING with admin.creds, and Ctrl-C leaves no process", async (t) => {
  const dir = join(freshDataDir(), "data");
  const port = await freePort();
  const { child, output } = startMnq({ MNQ_DATA_DIR: dir, MNQ_NATS_PORT: String(port), MNQ_LOG_LEVEL: "warn" });
  t.after(async () => {
    // SIGINT, not SIGKILL: a killed mnq cannot stop the nats-server it started.
    if (child.exitCode === null) {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await gone;
    }
    removeDir(join(dir, ".."));
  });
  await check(() => output().includes("mnq ready"), 30_000);
  assert.match(output(), new RegExp(`mnq ready on nats://127.0.0.1:${port}`));
  assert.match(output(), /admin\.creds/);

  const nc = await connectWithCreds(`127.0.0.1:${port}`, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
  const ping = (await nc.request("$SRV.PING.mnq", "")).json<{ name: string; type: string }>();
  assert.equal(ping.name, "mnq");
  const info = (await nc.request("$SRV.INFO.mnq", "")).json<{ endpoints: { subject: string }[] }>();
  assert.ok(info.endpoints.some((e) => e.subject === "mnq.api.v1.*.nats-accounts.create"));
  await nc.close();

  const serverPid = Number(
    spawnSync("pgrep", ["-f", `nats-server.* -p ${port}`], { encoding: "utf8" }).stdout.trim().split("\n")[0],
  );
  assert.ok(serverPid > 0 && pidAlive(serverPid), "the embedded nats-server runs");
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGINT");
  assert.equal(await exited, 0);
  await check(() => !pidAlive(serverPid), 5000);
});

test("mnq start - a port in use is one clear line and exit 1", async (t) => {
  const dir = join(freshDataDir(), "data");
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const port = (blocker.address() as { port: number }).port;
  t.after(() => {
    blocker.close();
    removeDir(join(dir, ".."));
  });
  const { child, output } = startMnq({ MNQ_DATA_DIR: dir, MNQ_NATS_PORT: String(port) });
  const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  assert.equal(code, 1);
  assert.match(output(), new RegExp(`mnq: port ${port} on 127.0.0.1 is already in use`));
});

test("mnq cluster - 3 nodes and 2 instances answer (status shows both, and each server's version), and Ctrl-C leaves no process", async (t) => {
  const dir = join(freshDataDir(), "data");
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const routePorts = [await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [MNQ, "cluster", "--instances", "2", "--client-ports", clientPorts.join(","), "--route-ports", routePorts.join(",")],
    { env: { ...cleanEnv, MNQ_DATA_DIR: dir, MNQ_LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill("SIGINT");
      await exited;
    }
    removeDir(join(dir, ".."));
  });
  await check(() => out.includes("mnq cluster ready") || child.exitCode !== null, 90_000, 100);
  assert.match(out, /mnq cluster ready: 2 instance\(s\) \(pids (\d+), (\d+)\)/, out);
  const pids = [...out.matchAll(/pids (\d+), (\d+)/g)][0]!.slice(1).map(Number);
  const nodes = spawnSync("pgrep", ["-f", `nats-server -c ${dir}/server/n`], { encoding: "utf8" }).stdout.trim().split("\n").map(Number);
  assert.equal(nodes.length, 3, "three nats-server nodes run");

  const status = spawnSync(process.execPath, [MNQ, "status", "--json", "--server", `nats://127.0.0.1:${clientPorts[1]}`], {
    env: { ...cleanEnv, MNQ_DATA_DIR: dir },
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(status.status, 0, status.stderr);
  const shown = JSON.parse(status.stdout) as { instances: number; servers: { name: string; version: string }[] };
  assert.equal(shown.instances, 2);
  assert.equal(shown.servers.length, 3, "one row per server");
  for (const sv of shown.servers) assert.match(sv.version, /^\d+\.\d+\.\d+/);

  child.kill("SIGINT");
  assert.equal(await exited, 0);
  for (const pid of [...pids, ...nodes]) assert.equal(pidAlive(pid), false, `process ${pid} is gone`);
});
