/**
 * mnq benchmarks: `npm run bench [-- --json] [-- --quick]`. Starts its own nats-server and an mnq
 * process on loopback, runs each scenario with its baseline in the same run, and prints a table
 * (or, with --json, one JSON object per figure).
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DataFile } from "../service/bootstrap/index.ts";
import { newAccessKey, NKeyPair, parseCreds } from "../service/identity/index.ts";
import { VERSION } from "../service/runtime/version.ts";
import { EndpointStats, Metrics } from "../service/observe/index.ts";
import { freePort, freshDataDir, removeDir, startNode } from "../test/helpers/servers.ts";
import { type ClientAuth, oneConnect, runLoad } from "./load.ts";
import { cpuMs, rssMiB, startMnqProcess } from "./proc.ts";

const args = new Set(process.argv.slice(2));
const json = args.has("--json");
const quick = args.has("--quick");
const N = quick ? 400 : 2000;
/** Credentials in the big account before the one-at-a-time creates (200 more: 10,000 in all). */
const CREDS_IN_ACCOUNT = quick ? 1000 : 9_800;
/** The largest bound of an account's credentials plus revocations (the default is 5,000). */
const MAX_REVOCATIONS = "10000";
const WARM_UP = 1000;

interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: number | null;
  ratio: number | null;
}
const figures: Figure[] = [];
function figure(name: string, value: number, unit: string, baseline: number | null = null): void {
  const f = { name, value: round(value), unit, baseline: baseline === null ? null : round(baseline), ratio: baseline ? round(value / baseline, 3) : null };
  figures.push(f);
  if (json) process.stdout.write(`${JSON.stringify(f)}\n`);
}
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
const progress = (what: string) => (done: number) => {
  if (!json) process.stderr.write(`\r  ${what}: ${done}   `);
};
const step = (what: string) => {
  if (!json) process.stderr.write(`\r${" ".repeat(60)}\r… ${what}\n`);
};

async function api<T>(nc: NatsConnection, subject: string, body: unknown): Promise<T> {
  const m = await nc.request(subject, JSON.stringify(body), { timeout: 10_000 });
  if (m.headers?.get("Nats-Service-Error-Code")) throw new Error(`${subject}: ${m.string()}`);
  return m.json<T>();
}

async function main(): Promise<void> {
  let natsServer = "unknown";
  const dataDir = freshDataDir();
  const server = await startNode(dataDir);
  const url = server.url;
  let mnq: Awaited<ReturnType<typeof startMnqProcess>> | undefined;
  try {
    // metrics on, as operators run it: their cost is inside every figure below
    const metricsPort = await freePort();
    mnq = await startMnqProcess(dataDir, url, metricsPort, { MNQ_MAX_REVOCATIONS: MAX_REVOCATIONS });
    const pid = mnq.pid;
    const key = JSON.parse(readFileSync(join(dataDir, DataFile.adminApiKey), "utf8")) as { access_key: string; secret_key: string };
    const admin = await connect({ servers: url, user: key.access_key, pass: key.secret_key });
    natsServer = admin.info?.version ?? "unknown";
    const account = await api<{ id: string }>(admin, "mnq.api.v1.bench.nats-accounts.create", { name: "bench" });
    const creds = await api<{ credentials: { content: string } }>(admin, "mnq.api.v1.bench.nats-credentials.create", { nats_account_id: account.id });
    const parsed = parseCreds(creds.credentials.content);
    const projectKey = await api<{ access_key: string; secret_key: string }>(admin, "mnq.admin.v1.api-keys.create", { project_id: "bench" });
    const auths: Record<string, ClientAuth> = {
      native: { kind: "creds", jwt: parsed.jwt, seed: parsed.seed },
      nkey: { kind: "nkey", seed: parsed.seed },
      apikey: { kind: "userpass", user: projectKey.access_key, pass: projectKey.secret_key },
    };
    // Steady state, as a long-running service is: until V8 has optimized the callout's path the
    // first kind measured pays for it (about a third more CPU per auth with 100 warm-up connects).
    step(`warm-up: ${WARM_UP} connects of each kind`);
    for (const a of Object.values(auths)) await runLoad(WARM_UP, 50, () => oneConnect(url, a), progress("warm-up"));

    // 1. connect rate, 50 in flight, each baseline in the same run; CPU of the service and of
    // nats-server per connect, both from /proc
    const rates: Record<string, number> = {};
    let serviceCpuPerAuth = 0;
    const serverCpu: Record<string, number> = {};
    for (const kind of ["native", "nkey", "apikey"] as const) {
      step(`connect rate (${kind}), ${N} connects, 50 in flight`);
      const cpu0 = cpuMs(pid);
      const srv0 = cpuMs(server.pid);
      const r = await runLoad(N, 50, () => oneConnect(url, auths[kind]!), progress(kind));
      const cpu = cpuMs(pid) - cpu0;
      serverCpu[kind] = (cpuMs(server.pid) - srv0) / r.ok;
      rates[kind] = r.rate;
      const base = kind === "native" ? null : rates.native!;
      figure(`connect_rate_${kind}`, r.rate, "connects/s", base);
      figure(`connect_p50_${kind}`, r.p50, "ms");
      figure(`connect_p99_${kind}`, r.p99, "ms");
      figure(`connect_failures_${kind}`, r.failures, "count");
      figure(`server_cpu_per_connect_${kind}`, serverCpu[kind]!, "ms", kind === "native" ? null : serverCpu.native!);
      if (kind !== "native") {
        // targets: service ≤ 0.35 ms (nkey) / 0.30 ms (API key); server ≤ native + 0.40 ms
        figure(`service_cpu_per_auth_${kind}`, cpu / r.ok, "ms", kind === "nkey" ? 0.35 : 0.3);
        if (kind === "nkey") serviceCpuPerAuth = cpu / r.ok;
        figure(`server_cpu_extra_per_callout_${kind}`, serverCpu[kind]! - serverCpu.native!, "ms", 0.4);
      }
    }
    // 2. burst
    step("burst: 500 nkey clients at once");
    const burst = await runLoad(500, 500, () => oneConnect(url, auths.nkey!));
    figure("burst_500_failures", burst.failures, "count");
    figure("burst_500_p99", burst.p99, "ms");
    // 3. refusals: unknown nkeys and unknown API keys, the cost a login flood puts on each side
    for (const kind of ["nkey", "apikey"] as const) {
      step(`refused logins (${kind}): ${N} unknown identities, 50 in flight`);
      const cpu0 = cpuMs(pid);
      const srv0 = cpuMs(server.pid);
      const unknown = (): ClientAuth =>
        kind === "nkey" ? { kind: "nkey", seed: NKeyPair.create("user").seedString() } : { kind: "userpass", user: newAccessKey(), pass: "wrong" };
      const r = await runLoad(N, 50, () => oneConnect(url, unknown()), progress(`refused ${kind}`));
      const refused = r.failures;
      figure(`refused_${kind}`, refused, "count", N);
      figure(`service_cpu_per_refusal_${kind}`, (cpuMs(pid) - cpu0) / Math.max(1, refused), "ms", serviceCpuPerAuth);
      figure(`server_cpu_per_refusal_${kind}`, (cpuMs(server.pid) - srv0) / Math.max(1, refused), "ms", serverCpu[kind]!);
    }
    // unloaded latency
    // target: a callout connect at most 1.2 ms slower than a native one
    let nativeP50 = 0;
    for (const kind of ["native", "nkey", "apikey"] as const) {
      step(`unloaded connect latency (${kind})`);
      const r = await runLoad(200, 1, () => oneConnect(url, auths[kind]!));
      if (kind === "native") nativeP50 = r.p50;
      figure(`unloaded_connect_p50_${kind}`, r.p50, "ms", kind === "native" ? null : nativeP50 + 1.2);
    }

    // 3. API latency
    step("API: account create in 5 projects of 10");
    const creates = await runLoad(50, 1, async (i) => {
      await api(admin, `mnq.api.v1.bench-acc-${i % 5}.nats-accounts.create`, {});
    });
    figure("api_account_create_p50", creates.p50, "ms");
    figure("api_account_create_p99", creates.p99, "ms", 50);
    step(`API: ${CREDS_IN_ACCOUNT} credentials in one account, 20 in flight`);
    const big = await api<{ id: string }>(admin, "mnq.api.v1.bench-big.nats-accounts.create", { name: "big" });
    const ids: string[] = [];
    const fill = await runLoad(
      CREDS_IN_ACCOUNT,
      20,
      async () => {
        const c = await api<{ id: string }>(admin, "mnq.api.v1.bench-big.nats-credentials.create", { nats_account_id: big.id });
        ids.push(c.id);
      },
      progress("credentials"),
    );
    figure("api_credentials_create_rate_20_in_flight", fill.rate, "creates/s");
    figure("api_credentials_create_p99_20_in_flight", fill.p99, "ms");
    // latency: one caller, with the account already holding them all
    step("API: credentials create latency, one at a time");
    const credCreates = await runLoad(200, 1, async () => {
      const c = await api<{ id: string }>(admin, "mnq.api.v1.bench-big.nats-credentials.create", { nats_account_id: big.id });
      ids.push(c.id);
    });
    figure("api_credentials_create_p50", credCreates.p50, "ms");
    figure("api_credentials_create_p99", credCreates.p99, "ms", 20);
    step(`API: get and list pages with ${ids.length} credentials`);
    const gets = await runLoad(200, 1, async (i) => {
      await api(admin, "mnq.api.v1.bench-big.nats-credentials.get", { nats_credentials_id: ids[(i * 37) % ids.length] });
    });
    figure("api_credentials_get_p50", gets.p50, "ms");
    figure("api_credentials_get_p99", gets.p99, "ms", 20);
    const lists = await runLoad(50, 1, async (i) => {
      await api(admin, "mnq.api.v1.bench-big.nats-credentials.list", { nats_account_id: big.id, page: 1 + (i % 50), page_size: 20 });
    });
    figure("api_credentials_list_page_p50", lists.p50, "ms");
    figure("api_credentials_list_page_p99", lists.p99, "ms", 20);
    // 4. metrics: what recording costs an auth (in this process, the same code), and a scrape
    step("metrics: recording cost per auth, and a scrape with 10,000 credentials");
    const metrics = new Metrics({ accounts: async () => 0, credentials: async () => 0, apiKeys: async () => 0, storage: () => [], viewLag: () => [], cache: () => ({ bytes: 0, maxBytes: 0, entries: 0, evictions: 0 }), background: () => [] });
    const stats = new EndpointStats();
    const RECORDS = 200_000;
    const t0 = performance.now();
    for (let i = 0; i < RECORDS; i++) {
      const started = performance.now();
      metrics.auth("nkey", "allowed", (performance.now() - started) / 1000);
      stats.record("auth-callout", started);
    }
    figure("metrics_record_per_auth", round(((performance.now() - t0) * 1000) / RECORDS, 3), "µs", round(serviceCpuPerAuth * 1000, 1));
    const scrapes = await runLoad(20, 1, async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      if (!res.ok || !(await res.text()).includes("mnq_auth_requests_total")) throw new Error(`/metrics answered ${res.status}`);
    });
    figure("metrics_scrape_p50", scrapes.p50, "ms");
    // 5. memory
    const rss = rssMiB(pid);
    figure("service_rss_now", rss.now, "MiB");
    figure("service_rss_peak", rss.peak, "MiB", 150);
    await admin.close();
  } finally {
    await mnq?.stop();
    await server.stop();
    removeDir(dataDir);
  }
  if (!json) {
    process.stderr.write(`\r${" ".repeat(60)}\r`);
    const rows = figures.map((f) => [f.name, String(f.value), f.unit, f.baseline === null ? "" : String(f.baseline), f.ratio === null ? "" : String(f.ratio)]);
    const head = ["figure", "value", "unit", "baseline", "ratio"];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => (i === 0 || i === 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
    process.stdout.write(`mnq ${VERSION}, nats-server ${natsServer}, node ${process.version}, ${cpus().length} cores, N=${N}\n${line(head)}\n${rows.map(line).join("\n")}\n`);
  } else {
    process.stdout.write(`${JSON.stringify({ name: "environment", mnq: VERSION, nats_server: natsServer, node: process.version, cores: cpus().length, n: N })}\n`);
  }
}

await main();
