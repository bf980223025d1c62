import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import type { ServiceMsg } from "@nats-io/services";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { type BootstrapOptions, DataFile, loadTrust, type Trust } from "../../service/bootstrap/index.ts";
import { type CalloutDeps, CalloutResponder } from "../../service/callout/index.ts";
import { loadConfig } from "../../service/config/index.ts";
import { encodeJwt, NKeyPair, type XKey } from "../../service/identity/index.ts";
import { createLogger } from "../../service/runtime/log.ts";
import { type MnqService, startService } from "../../service/main.ts";
import type { RunningServer } from "../../service/server/launcher.ts";
import { validator } from "../../service/contract/validation.ts";
import { waitForJetStream } from "../../service/server/cluster.ts";
import { type Cluster, freshDataDir, removeDir, startCluster, startNode } from "./servers.ts";

/** A reply as a caller sees it: the micro error code header (if any) and the JSON body. */
export interface ApiReply<T = Record<string, unknown>> {
  code: number | undefined;
  message: string | undefined;
  body: T;
}

/** Config for a test instance: a data dir and `MNQ_*` overrides. */
export function testConfig(dataDir: string, env: Record<string, string> = {}) {
  return loadConfig({ MNQ_DATA_DIR: dataDir, MNQ_LOG_LEVEL: "silent", ...env });
}

export function connectWithCreds(servers: string | string[], creds: string, opts: Record<string, unknown> = {}): Promise<NatsConnection> {
  return connect({ servers, authenticator: credsAuthenticator(new TextEncoder().encode(creds)), ...opts });
}

/** Calls an API subject and returns what the caller observes. */
export async function callApi<T = Record<string, unknown>>(nc: NatsConnection, subject: string, body: unknown = {}, timeoutMs = 10_000): Promise<ApiReply<T>> {
  const data = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
  const m = await nc.request(subject, data, { timeout: timeoutMs });
  const code = m.headers?.get("Nats-Service-Error-Code");
  return { code: code ? Number(code) : undefined, message: m.headers?.get("Nats-Service-Error") || undefined, body: m.json<T>() };
}

/**
 * Calls like a careful client: a 503 or a timeout is retried (docs/api.md: "safe to retry") until
 * `deadlineMs` has passed; the first other answer is returned.
 */
export async function callApiRetrying<T = Record<string, unknown>>(
  nc: NatsConnection,
  subject: string,
  body: unknown = {},
  deadlineMs = 30_000,
): Promise<ApiReply<T> & { attempts: number }> {
  const deadline = Date.now() + deadlineMs;
  for (let attempts = 1; ; attempts++) {
    try {
      const reply = await callApi<T>(nc, subject, body);
      if (reply.code !== 503 || Date.now() > deadline) return { ...reply, attempts };
    } catch (err) {
      if (!(err instanceof Error && /timeout/i.test(err.message)) || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Asserts a reply body matches its schema in schemas/api (replies are part of the contract). */
export function assertReplySchema(schema: string, body: unknown): void {
  const fn = validator(`urn:mnq:api:${schema}.reply`);
  if (!fn(body)) throw new Error(`reply does not match ${schema}: ${JSON.stringify(fn.errors)} in ${JSON.stringify(body)}`);
}

/** Throws unless `body` matches the schema of event `type` (schemas/events/, the AsyncAPI document's). */
export function assertEventSchema(type: string, body: unknown): void {
  const fn = validator(`urn:mnq:events:${type}`);
  if (!fn(body)) throw new Error(`event does not match ${type}: ${JSON.stringify(fn.errors)} in ${JSON.stringify(body)}`);
}

export interface MnqFixture {
  dataDir: string;
  server: RunningServer;
  mnq: MnqService;
  admin: NatsConnection;
  /** `mnq.api.v1.<project>.<op>` as the admin. */
  api<T = Record<string, unknown>>(project: string, op: string, body?: unknown): Promise<ApiReply<T>>;
  stop(): Promise<void>;
}

/** One nats-server from a fresh bootstrap plus one mnq instance and an admin.creds client. */
export async function startMnq(env: Record<string, string> = {}, boot: BootstrapOptions = {}): Promise<MnqFixture> {
  const dataDir = freshDataDir(boot);
  const server = await startNode(dataDir);
  let mnq: MnqService;
  let admin: NatsConnection;
  try {
    const cfg = testConfig(dataDir, env);
    mnq = await startService(cfg, createLogger(cfg.logLevel), server.url);
    admin = await connectWithCreds(server.url, readFileSync(join(dataDir, DataFile.adminCreds), "utf8"));
  } catch (err) {
    await server.stop(); // a fixture that did not start leaves no server behind
    removeDir(dataDir);
    throw err;
  }
  return {
    dataDir,
    server,
    mnq,
    admin,
    api: (project, op, body = {}) => callApi(admin, `mnq.api.v1.${project}.${op}`, body),
    async stop() {
      await admin.close();
      await mnq.stop();
      await server.stop();
      removeDir(dataDir);
    },
  };
}

export interface MnqClusterFixture {
  dir: string;
  cluster: Cluster;
  mnq: MnqService;
  /** admin.creds, connected to the whole cluster. */
  admin: NatsConnection;
  stop(): Promise<void>;
}

/** A 3-node cluster from one bootstrap, once JetStream has a meta leader, with one mnq instance (R3 buckets). */
export async function startMnqCluster(env: Record<string, string> = {}, instanceServers?: (c: Cluster) => string | string[]): Promise<MnqClusterFixture> {
  const dir = freshDataDir();
  const cluster = await startCluster(dir);
  let admin: NatsConnection | undefined;
  let mnq: MnqService;
  try {
    admin = await connectWithCreds(cluster.urls, readFileSync(join(dir, DataFile.adminCreds), "utf8"));
    // JetStream needs its meta leader before buckets can be made.
    await waitForJetStream(dir, cluster.urls);
    const cfg = testConfig(dir, { MNQ_KV_REPLICAS: "3", MNQ_NATS_URL: cluster.urls.join(","), ...env });
    mnq = await startService(cfg, createLogger(cfg.logLevel), instanceServers ? instanceServers(cluster) : cluster.urls);
  } catch (err) {
    // a fixture that did not start leaves no server behind (the suite's after hook never sees it)
    await admin?.close();
    await cluster.stop();
    removeDir(dir);
    throw err;
  }
  return {
    dir,
    cluster,
    mnq,
    admin,
    async stop() {
      await admin!.close();
      await mnq.stop();
      await cluster.stop();
      removeDir(dir);
    },
  };
}

/** A callout responder on a running instance's own deps (quiet), to hand requests to directly. */
export function calloutResponder(f: MnqFixture, overrides: Partial<CalloutDeps> = {}): { responder: CalloutResponder; trust: Trust } {
  const responder = new CalloutResponder({ ...f.mnq.calloutDeps, log: createLogger("silent"), ...overrides });
  return { responder, trust: loadTrust(f.dataDir) };
}

/** What the responder answered one request: the micro error code (if any) and the payload. */
export interface CalloutReply {
  code?: number;
  data: Uint8Array;
}

/**
 * Hands an authorization request (a JWT) to the responder as a server would, sealed by `sealer`
 * when the callout account asks for it, and returns its one reply.
 */
export async function handOver(responder: CalloutResponder, trust: Trust, sealer: XKey, token: string, seal = trust.calloutSealed): Promise<CalloutReply> {
  let data: Uint8Array = new TextEncoder().encode(token);
  const h = headers();
  if (seal) {
    h.set("Nats-Server-Xkey", sealer.publicKey);
    data = sealer.seal(data, trust.xkey.publicKey);
  }
  const replies: CalloutReply[] = [];
  const bytes = (d: Uint8Array | string | undefined) => (typeof d === "string" ? new TextEncoder().encode(d) : (d ?? new Uint8Array()));
  const msg = {
    data,
    headers: h,
    respond: (d: Uint8Array | string) => replies.push({ data: bytes(d) }),
    respondError: (code: number, _m: string, d?: Uint8Array | string) => replies.push({ code, data: bytes(d) }),
  };
  await responder.handle(msg as unknown as ServiceMsg);
  assert.equal(replies.length, 1, "one reply per request");
  return replies[0]!;
}

/** An authorization request JWT as a server (a key of its own) would send it, for `connect_opts`. */
export function authRequest(connectOpts: Record<string, string>, clientInfo: Record<string, string> = {}): string {
  const server = NKeyPair.create("server");
  const userNkey = NKeyPair.create("user").getPublicKey();
  return encodeJwt(
    {
      name: "",
      sub: userNkey,
      aud: "nats-authorization-request",
      exp: Math.floor(Date.now() / 1000) + 2,
      nats: {
        type: "authorization_request",
        server_id: { id: server.getPublicKey(), name: "t" },
        user_nkey: userNkey,
        client_info: clientInfo,
        connect_opts: connectOpts,
      },
    },
    server,
  );
}

/** A request for a credential's nkey, with its signature of the server's nonce. */
export function nkeyRequest(kp: NKeyPair): string {
  const nonce = "a-nonce-of-the-server";
  return authRequest({ nkey: kp.getPublicKey(), sig: Buffer.from(kp.sign(Buffer.from(nonce))).toString("base64url") }, { nonce });
}
