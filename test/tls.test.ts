import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type NatsConnection, nkeyAuthenticator, wsconnect } from "@nats-io/nats-core";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import WebSocketClient from "ws";
import { DataFile } from "../service/bootstrap/index.ts";
import { parseCreds } from "../service/identity/index.ts";
import { issueServerCertificate, newCertificateAuthority } from "../service/tls/self-signed.ts";
import { check } from "./helpers/check.ts";
import { cleanEnv, interrupt, MNQ, natsServersOnPort, runMnq, startMnqProcess } from "./helpers/cli.ts";
import { callApi } from "./helpers/mnq.ts";
import { freePort, freshDataDir, removeDir } from "./helpers/servers.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

type Account = { id: string; endpoint: string };
type Creds = { id: string; credentials: { content: string } };
const DAY = 24 * 3600 * 1000;

/** Certificates made for the tests: a CA, another CA, and server certificates good and bad. */
async function makeCertificates(dir: string) {
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const ca = await newCertificateAuthority("test CA", 30);
  const other = await newCertificateAuthority("another CA", 30);
  const good = await issueServerCertificate(ca, ["127.0.0.1", "localhost"]);
  const expired = await issueServerCertificate(ca, ["127.0.0.1"], { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
  const elsewhere = await issueServerCertificate(ca, ["mnq.example.org"]);
  return {
    ca: file("ca.pem", ca.certPem),
    otherCa: file("other-ca.pem", other.certPem),
    cert: file("cert.pem", good.certPem),
    key: file("key.pem", good.keyPem),
    expiredCert: file("expired.pem", expired.certPem),
    expiredKey: file("expired-key.pem", expired.keyPem),
    elsewhereCert: file("elsewhere.pem", elsewhere.certPem),
    elsewhereKey: file("elsewhere-key.pem", elsewhere.keyPem),
    notPem: file("not-pem.pem", "hello\n"),
  };
}

/** A W3C WebSocket for nats.js `wsconnect` in Node 20 that trusts `ca` (Node's own has no CA option). */
function useWebSocketTrusting(ca: Buffer): void {
  class TrustingWebSocket extends WebSocketClient {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { ca });
    }
  }
  (globalThis as { WebSocket?: unknown }).WebSocket = TrustingWebSocket;
}

describe("TLS: MNQ_TLS_CERT, MNQ_TLS_KEY, MNQ_TLS_CA and a WebSocket port", () => {
  let dir: string;
  let dataDir: string;
  let port: number;
  let wsPort: number;
  let certs: Awaited<ReturnType<typeof makeCertificates>>;
  let mnq: ReturnType<typeof startMnqProcess>;
  let env: Record<string, string>;
  const open = connectionsOfSuite();
  const tls = () => ({ tls: { caFile: certs.ca } });
  const adminCreds = () => credsAuthenticator(readFileSync(join(dataDir, DataFile.adminCreds)));
  const adminKey = () => JSON.parse(readFileSync(join(dataDir, DataFile.adminApiKey), "utf8")) as { access_key: string; secret_key: string };
  const track = (nc: NatsConnection) => open.keep(nc);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "mnq-tls-"));
    dataDir = join(freshDataDir(), "data");
    certs = await makeCertificates(dir);
    port = await freePort();
    wsPort = await freePort();
    env = { MNQ_DATA_DIR: dataDir, MNQ_NATS_PORT: String(port), MNQ_WS_PORT: String(wsPort), MNQ_TLS_CERT: certs.cert, MNQ_TLS_KEY: certs.key, MNQ_TLS_CA: certs.ca, MNQ_LOG_LEVEL: "warn" };
    mnq = startMnqProcess(env);
    await check(() => mnq.output().includes("mnq ready"), 30_000);
  });
  after(async () => {
    await open.closeAll();
    await interrupt(mnq.child);
    removeDir(join(dataDir, ".."));
    removeDir(dir);
  });

  test("start - the ready line gives the tls:// URL and the CA to use", () => {
    assert.match(mnq.output(), new RegExp(`mnq ready on tls://127.0.0.1:${port}`));
    assert.ok(mnq.output().includes(`NATS_CA=${certs.ca}`), mnq.output());
    assert.ok(mnq.output().includes(`--tlsca ${certs.ca}`));
    assert.ok(mnq.output().includes(`wss://127.0.0.1:${wsPort}`));
  });

  test("plaintext - a client that does not speak TLS gets no PONG: the server closes it", async () => {
    // valid credentials: over TLS they would get a PONG
    const { access_key, secret_key } = adminKey();
    const socket = tcpConnect(port, "127.0.0.1");
    let seen = "";
    socket.on("data", (d) => {
      seen += d.toString();
      if (seen.includes("\r\n") && !seen.includes("CONNECT-SENT")) {
        seen += "CONNECT-SENT";
        socket.write(`CONNECT ${JSON.stringify({ verbose: false, user: access_key, pass: secret_key })}\r\nPING\r\n`);
      }
    });
    socket.on("error", () => undefined);
    await new Promise((r) => socket.once("close", r));
    assert.match(seen, /"tls_required":true/);
    assert.doesNotMatch(seen, /PONG/);
  });

  test("trust - a client that trusts another CA is refused", async () => {
    await assert.rejects(connect({ servers: `127.0.0.1:${port}`, authenticator: adminCreds(), tls: { caFile: certs.otherCa }, reconnect: false }));
  });

  test("connect - creds file, credential nkey and API key all log in over TLS; the API answers; endpoint is tls://", async () => {
    const key = adminKey();
    const admin = track(await connect({ servers: `127.0.0.1:${port}`, user: key.access_key, pass: key.secret_key, ...tls() }));
    assert.equal(admin.info?.tls_required, true);
    const account = (await callApi<Account>(admin, "mnq.api.v1.tls.nats-accounts.create", { name: "t" })).body;
    assert.equal(account.endpoint, `tls://127.0.0.1:${port}`);
    const creds = (await callApi<Creds>(admin, "mnq.api.v1.tls.nats-credentials.create", { nats_account_id: account.id })).body;
    const byFile = track(await connect({ servers: account.endpoint, authenticator: credsAuthenticator(new TextEncoder().encode(creds.credentials.content)), ...tls() }));
    const seed = new TextEncoder().encode(parseCreds(creds.credentials.content).seed);
    const byNkey = track(await connect({ servers: account.endpoint, authenticator: nkeyAuthenticator(seed), ...tls() }));
    for (const nc of [byFile, byNkey]) {
      const info = (await nc.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
      assert.equal(info.data.account, account.id);
    }
  });

  test("mnq context - writes a context with the tls:// URL, the CA and the creds, and it connects", async () => {
    const key = adminKey();
    const admin = track(await connect({ servers: `127.0.0.1:${port}`, user: key.access_key, pass: key.secret_key, ...tls() }));
    const account = (await callApi<Account>(admin, "mnq.api.v1.tls-ctx.nats-accounts.create", { name: "ctx" })).body;
    const home = mkdtempSync(join(tmpdir(), "mnq-tls-home-"));
    try {
      const r = runMnq(["context", account.id, "--project", "tls-ctx", "--context", "tls-ctx", "--server", `tls://127.0.0.1:${port}`], { ...env, XDG_CONFIG_HOME: home });
      assert.equal(r.status, 0, r.stderr);
      const file = join(home, "nats", "context", "tls-ctx.json");
      const ctx = JSON.parse(readFileSync(file, "utf8")) as { url: string; ca: string; creds: string };
      assert.equal(ctx.url, `tls://127.0.0.1:${port}`);
      assert.equal(ctx.ca, certs.ca);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(ctx.creds).mode & 0o777, 0o600);
      // what `nats --context tls-ctx` does with those fields
      const nc = track(await connect({ servers: ctx.url, authenticator: credsAuthenticator(readFileSync(ctx.creds)), tls: { caFile: ctx.ca } }));
      const info = (await nc.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
      assert.equal(info.data.account, account.id);
    } finally {
      removeDir(home);
    }
  });

  test("websocket - an API key and a credential nkey log in over wss:// through the callout, call the API and publish", async () => {
    useWebSocketTrusting(readFileSync(certs.ca));
    const key = adminKey();
    const url = `wss://127.0.0.1:${wsPort}`;
    const byKey = track(await wsconnect({ servers: url, user: key.access_key, pass: key.secret_key }));
    const account = (await callApi<Account>(byKey, "mnq.api.v1.tls-ws.nats-accounts.create", { name: "ws" })).body;
    const creds = (await callApi<Creds>(byKey, "mnq.api.v1.tls-ws.nats-credentials.create", { nats_account_id: account.id })).body;
    const seed = new TextEncoder().encode(parseCreds(creds.credentials.content).seed);
    const byNkey = track(await wsconnect({ servers: url, authenticator: nkeyAuthenticator(seed) }));
    const got = new Promise<string>((resolve) => byNkey.subscribe("hello", { max: 1, callback: (_e, m) => resolve(m.string()) }));
    await byNkey.flush();
    byNkey.publish("hello", "over websocket");
    assert.equal(await got, "over websocket");
    const info = (await byNkey.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
    assert.equal(info.data.account, account.id);
  });
});

describe("TLS: MNQ_TLS=self-signed", () => {
  test("a private CA and server certificate are made once, the keys 0600, and reused by the next start", async () => {
    const dataDir = join(freshDataDir(), "data");
    const port = await freePort();
    const env = { MNQ_DATA_DIR: dataDir, MNQ_NATS_PORT: String(port), MNQ_TLS: "self-signed", MNQ_LOG_LEVEL: "warn" };
    const caFile = join(dataDir, "tls", "ca.pem");
    try {
      const first = startMnqProcess(env);
      await check(() => first.output().includes("mnq ready"), 30_000);
      const ca = readFileSync(caFile, "utf8");
      const cert = readFileSync(join(dataDir, "tls", "server.pem"), "utf8");
      for (const key of ["ca-key.pem", "server-key.pem"]) assert.equal(statSync(join(dataDir, "tls", key)).mode & 0o777, 0o600, key);
      assert.equal(await interrupt(first.child), 0);

      const second = startMnqProcess(env);
      await check(() => second.output().includes("mnq ready"), 30_000);
      assert.equal(readFileSync(caFile, "utf8"), ca, "the same CA");
      assert.equal(readFileSync(join(dataDir, "tls", "server.pem"), "utf8"), cert, "the same server certificate");
      const nc = await connect({
        servers: `tls://127.0.0.1:${port}`,
        authenticator: credsAuthenticator(readFileSync(join(dataDir, DataFile.adminCreds))),
        tls: { caFile },
      });
      assert.equal((await nc.request("$SRV.PING.mnq", "")).json<{ name: string }>().name, "mnq");
      await nc.close();
      // the mnq commands find the CA in the data dir without the setting repeated
      const status = runMnq(["status", "--json", "--server", `nats://127.0.0.1:${port}`], { MNQ_DATA_DIR: dataDir });
      assert.equal(status.status, 0, status.stderr);
      assert.equal((JSON.parse(status.stdout) as { instances: number }).instances, 1);
      assert.equal(await interrupt(second.child), 0);
    } finally {
      removeDir(join(dataDir, ".."));
    }
  });
});

describe("TLS: the self-signed CA vouches only for its names", () => {
  /** A TLS handshake with a server holding `cert`, verified against `ca` for `servername`: "ok" or the error. */
  const handshake = async (cert: { certPem: string; keyPem: string }, caPem: string, servername: string): Promise<string> => {
    const server = createTlsServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      return await new Promise<string>((resolve) => {
        const socket = tlsConnect({ host: "127.0.0.1", port, ca: caPem, servername }, () => {
          socket.end();
          resolve("ok");
        });
        socket.on("error", (err) => resolve(err.message));
      });
    } finally {
      server.close();
    }
  };

  test("self-signed CA - a certificate it signs for a name outside its constraints is refused by a verifying client (a leaked ca-key.pem mints nothing else)", async () => {
    const ca = await newCertificateAuthority(undefined, undefined, Date.now(), ["localhost", "127.0.0.1", "*.mnq.example.com"]);
    const inside = await issueServerCertificate(ca, ["n1.mnq.example.com"]);
    assert.equal(await handshake(inside, ca.certPem, "n1.mnq.example.com"), "ok");
    const outside = await issueServerCertificate(ca, ["bank.example.org"]);
    assert.match(await handshake(outside, ca.certPem, "bank.example.org"), /subtree|constraint/i);
  });
});

describe("TLS: bad input stops the start with one line naming the setting", () => {
  let dir: string;
  let certs: Awaited<ReturnType<typeof makeCertificates>>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "mnq-tls-bad-"));
    certs = await makeCertificates(dir);
  });
  after(() => removeDir(dir));

  const cases: [string, () => Record<string, string>, RegExp][] = [
    ["a missing certificate file", () => ({ MNQ_TLS_CERT: join(dir, "missing.pem"), MNQ_TLS_KEY: certs.key }), /^mnq: MNQ_TLS_CERT: cannot read .*missing\.pem \(no such file\)$/m],
    ["a file that is not PEM", () => ({ MNQ_TLS_CERT: certs.notPem, MNQ_TLS_KEY: certs.key }), /^mnq: MNQ_TLS_CERT: .* is not a PEM certificate file/m],
    ["a key that is not PEM", () => ({ MNQ_TLS_CERT: certs.cert, MNQ_TLS_KEY: certs.notPem }), /^mnq: MNQ_TLS_KEY: .* is not a PEM private key$/m],
    ["a key that does not match the certificate", () => ({ MNQ_TLS_CERT: certs.cert, MNQ_TLS_KEY: certs.elsewhereKey }), /^mnq: MNQ_TLS_KEY is not the private key of MNQ_TLS_CERT$/m],
    ["a certificate not valid for the listen host", () => ({ MNQ_TLS_CERT: certs.elsewhereCert, MNQ_TLS_KEY: certs.elsewhereKey }), /^mnq: MNQ_TLS_CERT is not valid for 127\.0\.0\.1/m],
    ["an expired certificate", () => ({ MNQ_TLS_CERT: certs.expiredCert, MNQ_TLS_KEY: certs.expiredKey }), /^mnq: MNQ_TLS_CERT expired on /m],
    ["a CA that did not issue the certificate", () => ({ MNQ_TLS_CERT: certs.cert, MNQ_TLS_KEY: certs.key, MNQ_TLS_CA: certs.otherCa }), /^mnq: MNQ_TLS_CA does not verify MNQ_TLS_CERT/m],
    ["a certificate without its key", () => ({ MNQ_TLS_CERT: certs.cert }), /^mnq: MNQ_TLS_CERT is set without MNQ_TLS_KEY/m],
  ];
  for (const [what, extra, line] of cases) {
    test(`${what}: exit 1, the line, no nats-server`, async () => {
      const dataDir = join(freshDataDir(), "data");
      const port = await freePort();
      try {
        const r = runMnq(["start"], { MNQ_DATA_DIR: dataDir, MNQ_NATS_PORT: String(port), MNQ_LOG_LEVEL: "warn", ...extra() });
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, line);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.deepEqual(natsServersOnPort(port), []);
      } finally {
        removeDir(join(dataDir, ".."));
      }
    });
  }
});


describe("TLS: mnq bootstrap for compose and systemd", () => {
  test("writes the nodes' TLS includes, the certificate checked against the hosts of MNQ_NATS_URL", async () => {
    const dataDir = join(freshDataDir(), "data");
    const dir = mkdtempSync(join(tmpdir(), "mnq-tls-boot-"));
    try {
      const urls = { MNQ_NATS_URL: "tls://n1:4222,tls://n2:4222,tls://n3:4222" };
      const r = runMnq(["bootstrap"], { MNQ_DATA_DIR: dataDir, MNQ_TLS: "self-signed", MNQ_TLS_NAMES: "n1,n2,n3", ...urls });
      assert.equal(r.status, 0, r.stderr);
      const client = readFileSync(join(dataDir, DataFile.clientTlsConf), "utf8");
      const routes = readFileSync(join(dataDir, DataFile.routeTlsConf), "utf8");
      assert.match(client, new RegExp(`cert_file: "${join(dataDir, "tls", "server.pem")}"`));
      assert.match(routes, new RegExp(`ca_file: "${join(dataDir, "tls", "ca.pem")}"`));
      // a certificate for 127.0.0.1 only does not serve nodes reached as n1…n3
      const certs = await makeCertificates(dir);
      const bad = runMnq(["bootstrap"], { MNQ_DATA_DIR: dataDir, MNQ_TLS_CERT: certs.cert, MNQ_TLS_KEY: certs.key, ...urls });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /^mnq: MNQ_TLS_CERT is not valid for n1, where clients reach the server/m);
    } finally {
      removeDir(join(dataDir, ".."));
      removeDir(dir);
    }
  });
});

describe("TLS: mnq cluster", () => {
  test("3 nodes with TLS client ports and routes: an account created through node 1 is served on node 3", async (t) => {
    const dataDir = join(freshDataDir(), "data");
    const clientPorts = [await freePort(), await freePort(), await freePort()];
    const routePorts = [await freePort(), await freePort(), await freePort()];
    const env = { ...cleanEnv, MNQ_DATA_DIR: dataDir, MNQ_LOG_LEVEL: "warn", MNQ_TLS: "self-signed" };
    const child = spawn(process.execPath, [MNQ, "cluster", "--instances", "1", "--client-ports", clientPorts.join(","), "--route-ports", routePorts.join(",")], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    t.after(async () => {
      await interrupt(child);
      removeDir(join(dataDir, ".."));
    });
    await check(() => out.includes("mnq cluster ready") || child.exitCode !== null, 90_000, 100);
    assert.match(out, /mnq cluster ready/, out);
    const caFile = join(dataDir, "tls", "ca.pem");
    const admin = credsAuthenticator(readFileSync(join(dataDir, DataFile.adminCreds)));
    const n1 = await connect({ servers: `tls://127.0.0.1:${clientPorts[0]}`, authenticator: admin, tls: { caFile } });
    t.after(() => n1.close());
    assert.equal(n1.info?.tls_required, true);
    // the routes: the node's varz says they take TLS only (the system user asks)
    const sys = await connect({ servers: `tls://127.0.0.1:${clientPorts[2]}`, authenticator: credsAuthenticator(readFileSync(join(dataDir, DataFile.sysCreds))), tls: { caFile } });
    t.after(() => sys.close());
    const varz = (await sys.request("$SYS.REQ.SERVER.PING.VARZ", "", { timeout: 5000 })).json<{ data: { cluster: { tls_required?: boolean; urls?: string[] } } }>();
    assert.equal(varz.data.cluster.tls_required, true, JSON.stringify(varz.data.cluster));
    const account = (await callApi<Account>(n1, "mnq.api.v1.tls-cl.nats-accounts.create", { name: "cl" })).body;
    const creds = (await callApi<Creds>(n1, "mnq.api.v1.tls-cl.nats-credentials.create", { nats_account_id: account.id })).body;
    const n3 = await connect({ servers: `tls://127.0.0.1:${clientPorts[2]}`, authenticator: credsAuthenticator(new TextEncoder().encode(creds.credentials.content)), tls: { caFile } });
    t.after(() => n3.close());
    const info = (await n3.request("$SYS.REQ.USER.INFO", "")).json<{ data: { account: string } }>();
    assert.equal(info.data.account, account.id);
    assert.ok(account.endpoint.startsWith("tls://"), account.endpoint);
  });
});
