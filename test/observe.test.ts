import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Msg } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { loadTrust } from "../service/bootstrap/index.ts";
import { accountJwt, type AccountLimits, peekClaims } from "../service/identity/index.ts";
import { projectRoot } from "../service/contract/project-root.ts";
import { Store } from "../service/store/index.ts";
import { check } from "./helpers/check.ts";
import { assertEventSchema, callApi, connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

type Key = { access_key: string; secret_key: string };

// What a leaked seed or creds file looks like (built from parts so the source holds no such marker).
const SEED_OR_CREDS = new RegExp(["S[UAOX][A-Z2-7]{56}", "BEGIN USER NKEY " + "SEED", "BEGIN NATS USER " + "JWT"].join("|"));

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** The value of one sample of the exposition text (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{\s]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

describe("observability", () => {
  let f: MnqFixture;
  let port: number;
  const open = connectionsOfSuite();
  before(async () => {
    f = await startMnq({ MNQ_METRICS_PORT: "0" });
    port = f.mnq.metricsPort!;
  });
  after(async () => {
    await open.closeAll();
    await f.stop();
  });

  const newKey = async (project: string) => (await callApi<Key>(f.admin, "mnq.admin.v1.api-keys.create", { project_id: project })).body;
  const login = async (k: Key) => {
    const nc = await connect({ servers: f.server.url, user: k.access_key, pass: k.secret_key, reconnect: false });
    open.keep(nc);
    return nc;
  };

  test("metrics - the series of every event type, resolver operation and login outcome are there from the start, at 0 where nothing happened", async () => {
    const text = (await get(port, "/metrics")).body;
    for (const line of [
      'mnq_events_published_total{type="nats-credentials.deleted"}',
      'mnq_events_published_total{type="quota"}',
      'mnq_resolver_push_failures_total{op="delete"}',
      'mnq_auth_requests_total{method="nkey",result="error"}',
    ]) {
      assert.match(text, new RegExp(`^${line.replace(/[{}.]/g, "\\$&")} \\d+$`, "m"), line);
    }
  });

  test("metrics - logins, a wrong secret, a 404 and two 200s move the counters; histograms count; health answers", async () => {
    const before = (await get(port, "/metrics")).body;
    const key = await newKey("ob-metrics");
    for (let i = 0; i < 3; i++) await (await login(key)).close();
    await assert.rejects(connect({ servers: f.server.url, user: key.access_key, pass: `${key.secret_key}x`, reconnect: false }));
    const nc = await login(key);
    const unknown = await callApi(nc, "mnq.api.v1.ob-metrics.nats-accounts.get", { nats_account_id: `A${"B".repeat(55)}` });
    assert.equal(unknown.code, 404);
    for (let i = 0; i < 2; i++) assert.equal((await callApi(nc, "mnq.api.v1.ob-metrics.nats-accounts.list", {})).code, undefined);

    const r = await get(port, "/metrics");
    assert.equal(r.status, 200);
    const moved = (name: string, labels: Record<string, string>) => sample(r.body, name, labels) - sample(before, name, labels);
    assert.ok(moved("mnq_auth_requests_total", { method: "api_key", result: "allowed" }) >= 4);
    assert.ok(moved("mnq_auth_requests_total", { method: "api_key", result: "denied" }) >= 1);
    assert.ok(moved("mnq_api_requests_total", { endpoint: "nats-accounts.get", status: "404" }) >= 1);
    assert.ok(moved("mnq_api_requests_total", { endpoint: "nats-accounts.list", status: "200" }) >= 2);
    assert.ok(sample(r.body, "mnq_auth_duration_seconds_count", { method: "api_key" }) >= 5);
    assert.ok(sample(r.body, "mnq_api_duration_seconds_count", { endpoint: "nats-accounts.list" }) >= 2);
    assert.ok(sample(r.body, "mnq_api_keys") >= 2, "the admin key and this one");
    assert.match(r.body, /^process_cpu_seconds_total /m, "the library's process metrics");
    assert.doesNotMatch(r.body, new RegExp(key.secret_key));
    assert.deepEqual(await get(port, "/healthz"), { status: 200, body: "ok\n" });
    assert.equal((await get(port, "/readyz")).status, 200);
    assert.equal((await get(port, "/other")).status, 404);
  });

  test("metrics - the instance's own rounds are counted by kind as they begin: the start's reconcile with its resolver list, the fleet's count", async () => {
    await check(async () => {
      const text = (await get(port, "/metrics")).body;
      return ["reconcile", "resolver_list", "fleet_count"].every((work) => sample(text, "mnq_background_rounds_total", { work }) >= 1);
    });
    const text = (await get(port, "/metrics")).body;
    for (const work of ["fleet_count", "reconcile", "resolver_list", "quota_check"]) {
      assert.match(text, new RegExp(`^mnq_background_running\\{work="${work}"\\} [01]$`, "m"), `${work} has its series, running or not`);
    }
  });

  test("metrics - an account's storage and quota are labelled with its project and id", async () => {
    const a = (await f.api<{ id: string }>("ob-storage", "nats-accounts.create", {})).body;
    const c = (await f.api<{ credentials: { content: string } }>("ob-storage", "nats-credentials.create", { nats_account_id: a.id })).body;
    const nc = await connectWithCreds(f.server.url, c.credentials.content);
    const kv = await new Kvm(nc).create("stored");
    await kv.put("k", "x".repeat(1000));
    await nc.close();
    await f.mnq.quota.check();
    const text = (await get(port, "/metrics")).body;
    const labels = { project_id: "ob-storage", nats_account_id: a.id };
    assert.equal(sample(text, "mnq_account_storage_quota_bytes", labels), f.mnq.ctx.cfg.quota.storageBytes);
    assert.ok(sample(text, "mnq_account_storage_used_bytes", labels) >= 1000, "what the account stores");
    assert.ok(sample(text, "mnq_nats_accounts") >= 1);
  });

  test("$SRV.STATS - an error reply counts as an error, and processing time is the time to the answer", async () => {
    const stats = async () => {
      const m = await f.admin.request("$SRV.STATS.mnq", "");
      type Ep = { name: string; num_requests: number; num_errors: number; processing_time: number; last_error?: string };
      return m.json<{ endpoints: Ep[] }>().endpoints.find((e) => e.name === "nats-accounts-get")!;
    };
    const was = await stats();
    const bad = await f.api("ob-stats", "nats-accounts.get", { nats_account_id: "not-an-id" });
    assert.equal(bad.code, 400);
    const now = await stats();
    assert.equal(now.num_errors, was.num_errors + 1);
    assert.equal(now.num_requests, was.num_requests + 1);
    assert.match(now.last_error ?? "", /^400 /);
    assert.ok(now.processing_time > was.processing_time);
  });

  test("events - account, credentials and API key lifecycle: six events once each, in order, with the actor, no secret; another project sees none", async () => {
    const project = "ob-events";
    const seen: Msg[] = [];
    const all = f.admin.subscribe(`mnq.events.v1.${project}.>`, { callback: (_e, m) => void seen.push(m) });
    await f.admin.flush();
    const key = await newKey(project);
    const caller = await login(key);
    const byKey: Msg[] = [];
    caller.subscribe(`mnq.events.v1.${project}.>`, { callback: (_e, m) => void byKey.push(m) });
    await caller.flush();
    // another project's key: its permissions refuse a subscription to this project's events
    const other = await login(await newKey("ob-events-other"));
    const leaked: Msg[] = [];
    let refused: Error | null = null;
    other.subscribe(`mnq.events.v1.${project}.>`, {
      callback: (err, m) => {
        if (err) refused = err;
        else leaked.push(m);
      },
    });
    await other.flush();

    const api = (op: string, body: unknown) => callApi<Record<string, unknown>>(caller, `mnq.api.v1.${project}.${op}`, body);
    const account = (await api("nats-accounts.create", { name: "ev" })).body as { id: string };
    const creds = (await api("nats-credentials.create", { nats_account_id: account.id, name: "w" })).body as { id: string; credentials: { content: string } };
    assert.equal((await api("nats-credentials.delete", { nats_credentials_id: creds.id })).code, undefined);
    assert.equal((await api("nats-accounts.delete", { nats_account_id: account.id })).code, undefined);
    const second = (await callApi<Key>(f.admin, "mnq.admin.v1.api-keys.create", { project_id: project, name: "k2" })).body;
    assert.equal((await callApi(f.admin, "mnq.admin.v1.api-keys.delete", { access_key: second.access_key })).code, undefined);
    // each event is published before its reply: one round trip later every one has arrived
    await Promise.all([f.admin.flush(), caller.flush(), other.flush()]);
    all.unsubscribe();

    const bodies = seen.map((m) => m.json<Record<string, unknown>>());
    assert.deepEqual(
      seen.map((m) => m.subject),
      ["api-keys.created", "nats-accounts.created", "nats-credentials.created", "nats-credentials.deleted", "nats-accounts.deleted", "api-keys.created", "api-keys.deleted"].map(
        (e) => `mnq.events.v1.${project}.${e}`,
      ),
    );
    assert.deepEqual(bodies.map((b) => b.type), seen.map((m) => m.subject.split(".").slice(4).join(".")));
    seen.forEach((m, i) => assertEventSchema(m.subject.split(".").slice(4).join("."), bodies[i]));
    for (const b of bodies) {
      assert.equal(b.project_id, project);
      assert.ok(!Number.isNaN(Date.parse(String(b.time))));
    }
    assert.deepEqual(bodies.map((b) => b.actor), ["admin", key.access_key, key.access_key, key.access_key, key.access_key, "admin", "admin"]);
    assert.deepEqual(bodies[1], { ...bodies[1], nats_account_id: account.id, name: "ev" });
    assert.deepEqual(bodies[2], { ...bodies[2], nats_account_id: account.id, nats_credentials_id: creds.id, name: "w" });
    assert.deepEqual(bodies[6], { ...bodies[6], access_key: second.access_key, name: "k2" });
    const raw = seen.map((m) => m.string()).join("\n");
    assert.doesNotMatch(raw, SEED_OR_CREDS);
    for (const secret of [key.secret_key, second.secret_key, creds.credentials.content]) assert.ok(!raw.includes(secret));
    assert.deepEqual(byKey.map((m) => m.subject), seen.slice(1).map((m) => m.subject), "the project's own key sees its events");
    assert.equal(leaked.length, 0, "another project's key sees none");
    assert.match(String(refused), /permissions violation/i, "its subscription was refused");
  });

  test("reconcile - an api-clients account issued without the shared API import is issued again; until then its calls are refused (the caller is not named), then events name the key", async () => {
    const project = "ob-upgrade";
    const key = await newKey(project);
    const clientId = (await f.mnq.store.apiKeys.get(Store.apiKeyKey(project, key.access_key)))!.value.client_account!;
    const recordKey = Store.accountKey(project, clientId);
    const trust = loadTrust(f.dataDir);
    // what an earlier version issued: the same imports, the API one not sharing its caller
    const old = await f.mnq.store.accounts.modify(recordKey, (cur) => {
      const r = cur!.value;
      const claims = peekClaims<{ limits: AccountLimits }>(r.jwt).nats as { limits: AccountLimits };
      const imports = [
        { name: "mnq-api", subject: `mnq.api.v1.${project}.>`, account: trust.mnqAccount, type: "service" as const },
        { name: "mnq-events", subject: `mnq.events.v1.${project}.>`, account: trust.mnqAccount, type: "stream" as const },
      ];
      const iat = (r.jwt_iat ?? 0) + 1;
      const jwt = accountJwt({ name: r.name, account: r.id, signingKeys: [r.signing_key], limits: claims.limits, imports, iat }, trust.operatorSigner);
      return { ...r, jwt, jwt_iat: iat };
    });
    await f.mnq.resolver.push(old!.value.jwt);
    const events: Msg[] = [];
    const sub = f.admin.subscribe(`mnq.events.v1.${project}.>`, { callback: (_e, m) => void events.push(m) });
    await f.admin.flush();
    const caller = await login(key);
    const refused = await callApi(caller, `mnq.api.v1.${project}.nats-accounts.create`, { name: "before" });
    assert.equal(refused.code, 403, "a caller the service cannot name reaches nothing");
    await f.mnq.accounts.reconcile(false);
    const shared = peekClaims<{ imports: { subject: string; share?: boolean }[] }>((await f.mnq.store.accounts.get(recordKey))!.value.jwt).nats.imports;
    assert.equal(shared?.find((i) => i.subject === `mnq.api.v1.${project}.>`)?.share, true);
    await callApi(caller, `mnq.api.v1.${project}.nats-accounts.create`, { name: "after" });
    await f.admin.flush();
    sub.unsubscribe();
    const actors = events.map((m) => m.json<{ name: string; actor?: string }>()).map((b) => [b.name, b.actor]);
    assert.deepEqual(actors, [["after", key.access_key]]);
  });

  test("dashboard - every query of deploy/grafana/mnq.json names a metric the service exports", async () => {
    const dashboard = JSON.parse(readFileSync(join(projectRoot, "deploy", "grafana", "mnq.json"), "utf8")) as unknown;
    const exprs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) k === "expr" && typeof x === "string" ? exprs.push(x) : walk(x);
    };
    walk(dashboard);
    assert.ok(exprs.length >= 8, `the dashboard has its panels (${exprs.length} queries)`);
    const exported = new Set([...(await get(port, "/metrics")).body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    for (const expr of exprs) {
      const names = [...expr.matchAll(/\b((?:mnq|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, ""));
      assert.ok(names.length > 0, `a query names a metric: ${expr}`);
      for (const n of names) assert.ok(exported.has(n), `${n} (in ${expr}) is exported`);
    }
  });
});

describe("observability - readiness", () => {
  let f: MnqFixture;
  before(async () => {
    f = await startMnq({ MNQ_METRICS_PORT: "0" });
  });
  after(async () => {
    await f.stop();
  });

  test("readyz - 503 while the service cannot reach its server; healthz still 200", async () => {
    const port = f.mnq.metricsPort!;
    assert.equal((await get(port, "/readyz")).status, 200);
    await f.server.stop();
    await check(async () => (await get(port, "/readyz")).status === 503);
    assert.equal((await get(port, "/healthz")).status, 200);
  });
});
