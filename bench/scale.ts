/**
 * npm run bench:scale [-- --credentials 10000,100000,1000000] [-- --logins 100000]
 *   [-- --keep] [-- --reuse DIR]
 *
 * An instance's memory, start time, auth and list latency and create rate as the fleet grows. For
 * each N, a fresh nats-server gets N/50 projects of one account each and N/10 API keys (each an
 * account of its own), made through the API (so their JWTs are on the resolver), then N credentials written straight into KV
 * by the product's own record builders (a simulation of the fleet: a million through the API would
 * take an hour), a big project of two accounts holding 5,000 and 1,000 of them, and one project in
 * 20 with API keys. A new mnq process then starts on that data and is measured:
 * - time from spawn to ready, RSS after start and after a warm-up of `--logins` logins over a
 *   Zipf-like mix of identities (rank r drawn with weight 1/r);
 * - unloaded connect latency, native (creds file) against nkey and API key, hot (in memory) and
 *   cold (never asked for since the start);
 * - list pages of the 5,000-credential account and of its project (6,000), first page and then
 *   PAGES random pages (a p99 of 200 was their second slowest: one stall of the machine moved it);
 * - the create rate of credentials, 20 in flight.
 *
 * - unloaded connects of API keys not in the instance's memory whose accounts the server knows
 *   (logged in once through another instance), and of keys never logged in with, whose first login
 *   also makes the server load their account (compared with a creds file's first login into another
 *   API key's account, which the server loads alike; and into a tenant account). First logins are
 *   measured apart, a pause after each, before the connects that load no account. A timed round of
 *   connects that met the instance's own work (mnq_background_*: a quota check, a reconcile round
 *   and its resolver list, a count) is left out of these unloaded figures, and shown with them apart.
 *
 * `--keep` leaves the fleet (the data dir and what the bench drew from it) and prints where;
 * `--reuse DIR` measures such a fleet again without making it (minutes at a million; one size).
 * BENCH_HEAP_SNAPSHOT=1 with BENCH_MNQ_NODE_ARGS="--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR"
 * writes a heap snapshot of the instance after the warm-up.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DataFile, loadTrust } from "../service/bootstrap/index.ts";
import { buildCredentials } from "../service/credentials/index.ts";
import { parseCreds, SeedVault, userJwt } from "../service/identity/index.ts";
import { type AccountRecord, type ApiKeyRecord, Store } from "../service/store/index.ts";
import { DirectReads } from "../service/store/direct-reads.ts";
import { createUser } from "@nats-io/nkeys";
import { bounded } from "../test/helpers/load.ts";
import { connectWithCreds } from "../test/helpers/mnq.ts";
import { freePort, freshDataDir, removeDir, startNode } from "../test/helpers/servers.ts";
import { type ClientAuth, oneConnect, runLoad } from "./load.ts";
import { cpuMs, rssMiB, rssParts, startMnqProcess } from "./proc.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const SIZES = option("--credentials", "10000,100000,1000000").split(",").map(Number);
const LOGINS = Number(option("--logins", "100000"));
const KEEP = args.includes("--keep");
const REUSE = option("--reuse", "");
/** Identities the warm-up draws from (Zipf over their ranks), and those kept cold. */
const WARM_SAMPLE = 20_000;
const COLD_SAMPLE = 500;
/** Random pages timed per list, one at a time. */
const PAGES = 1000;
/** The bound on a page's p99 (#27): how many pages took longer is printed beside it. */
const PAGE_BOUND_MS = 50;
/** The longest wait for the instance's own work to end before a timed round of connects. */
const BACKGROUND_WAIT_MS = 10 * 60_000;
/** The pause after a first login into an account new to the server (see the unloaded connects). */
const FIRST_LOGIN_SETTLE_MS = 50;
const BIG = 5000;
const SECOND = 1000;
/** The create rate measured before this work, through the API, on one instance (the issue's figure). */
const CREATE_RATE_BASELINE = 1000;

const log = (m: string) => process.stderr.write(`bench:scale ${new Date().toISOString().slice(11, 19)} ${m}\n`);
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

/** The instance's metrics, as a scrape reads them (Prometheus text). */
async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Where the instance's memory is (its /metrics): V8 heap used and total, external, and what the record cache charges. */
async function memoryFigures(port: number): Promise<string> {
  const text = await scrape(port);
  const mib = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "m").exec(text);
    return m ? `${round(Number(m[1]) / 2 ** 20)} MiB` : "?";
  };
  return `heap used ${mib("nodejs_heap_size_used_bytes")} of ${mib("nodejs_heap_size_total_bytes")}, external ${mib("nodejs_external_memory_bytes")}, cache ${mib("mnq_cache_bytes")}`;
}

/** Where the instance's resident memory is (see rssParts). */
function residentParts(pid: number): string {
  const parts = rssParts(pid);
  return `resident: files ${round(parts.files)} MiB, malloc heap ${round(parts.heap)} MiB, anonymous ${round(parts.anonymous)} MiB`;
}

/** The callout's answer time so far, per presented method (`mnq_auth_duration_seconds` sum and count). */
async function calloutSeconds(port: number): Promise<Record<string, { sum: number; count: number }>> {
  const text = await scrape(port);
  const out: Record<string, { sum: number; count: number }> = {};
  for (const m of text.matchAll(/^mnq_auth_duration_seconds_(sum|count)\{method="([^"]+)"\} ([0-9.e+-]+)$/gm)) {
    const e = (out[m[2]!] ??= { sum: 0, count: 0 });
    e[m[1] as "sum" | "count"] = Number(m[3]);
  }
  return out;
}

/** The instance's own work (mnq_background_*): how many rounds run now and have begun, of every kind. */
async function backgroundWork(port: number): Promise<{ running: number; begun: number }> {
  const text = await scrape(port);
  const sum = { running: 0, rounds_total: 0 };
  for (const m of text.matchAll(/^mnq_background_(running|rounds_total)\{work="[^"]+"\} ([0-9.e+-]+)$/gm)) sum[m[1] as keyof typeof sum] += Number(m[2]);
  return { running: sum.running, begun: sum.rounds_total };
}

/** The instance's V8 collections so far, by kind: how many, how many over 10 ms, and their seconds (nodejs_gc_duration_seconds). */
async function collections(port: number): Promise<Record<string, { count: number; over10ms: number; seconds: number }>> {
  const text = await scrape(port);
  const out: Record<string, { count: number; over10ms: number; seconds: number }> = {};
  const of = (kind: string) => (out[kind] ??= { count: 0, over10ms: 0, seconds: 0 });
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count)\{kind="([^"]+)"\} ([0-9.e+-]+)$/gm)) {
    if (m[1] === "sum") of(m[2]!).seconds = Number(m[3]);
    else of(m[2]!).count = Number(m[3]);
  }
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_bucket\{le="0.01",kind="([^"]+)"\} ([0-9.e+-]+)$/gm)) of(m[1]!).over10ms = -Number(m[2]);
  for (const e of Object.values(out)) e.over10ms += e.count;
  return out;
}

/** What the instance's collections were between two readings of `collections`. */
function collectedBetween(before: Awaited<ReturnType<typeof collections>>, after: Awaited<ReturnType<typeof collections>>): string {
  return Object.entries(after)
    .map(([kind, a]) => {
      const b = before[kind] ?? { count: 0, over10ms: 0, seconds: 0 };
      return `${kind} ${a.count - b.count} (${a.over10ms - b.over10ms} over 10 ms, ${round((a.seconds - b.seconds) * 1000)} ms)`;
    })
    .join(", ");
}

/**
 * A heap snapshot of the instance (started with BENCH_MNQ_NODE_ARGS="--heapsnapshot-signal=SIGUSR2
 * --diagnostic-dir=DIR"): signalled, then waited for until its file stops growing.
 */
async function heapSnapshot(pid: number, n: number): Promise<void> {
  const dir = /--diagnostic-dir=(\S+)/.exec(process.env.BENCH_MNQ_NODE_ARGS ?? "")?.[1] ?? ".";
  const before = new Set(readdirSync(dir));
  process.kill(pid, "SIGUSR2");
  for (let last = -1; ; ) {
    await new Promise((r) => setTimeout(r, 1000));
    const file = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !before.has(f));
    const size = file ? statSync(join(dir, file)).size : -1;
    if (file && size === last && size > 0) {
      log(`N=${n}: heap snapshot ${join(dir, file)}, ${round(size / 2 ** 20)} MiB`);
      return;
    }
    last = size;
  }
}

/** One API call; a 503 ("retry") is asked again, up to 3 times, as a client would. */
async function api<T>(nc: NatsConnection, subject: string, body: unknown): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const m = await nc.request(subject, JSON.stringify(body), { timeout: 30_000 });
    const code = m.headers?.get("Nats-Service-Error-Code");
    if (code === "503" && attempt < 3) {
      log(`${subject}: 503 ${m.string()}, asked again`);
      continue;
    }
    if (code) throw new Error(`${subject}: ${m.string()}`);
    return m.json<T>();
  }
}

interface Row {
  credentials: number;
  apiKeys: number;
  projects: number;
  seedS: number;
  readyS: number;
  rssStartMiB: number;
  rssWarmMiB: number;
  warmFailures: number;
  nativeP50: number;
  nativeColdP50: number;
  /** A creds file's first login into an API key's account (made like one, never used: the server loads the account). */
  nativeKeyColdP50: number;
  hotNkey: [number, number];
  coldNkey: [number, number];
  hotApiKey: [number, number];
  /** Not in the instance's memory, its account known to the server (logged in before, through another instance). */
  knownApiKey: [number, number];
  /** Never logged in with: its account new to the server too. */
  coldApiKey: [number, number];
  listFirstMs: number;
  list: [number, number];
  projectFirstMs: number;
  projectList: [number, number];
  createRate: number;
}

/** What the bench made of a fleet and drew from it: enough to measure it again (`--reuse`). */
interface Fleet {
  n: number;
  projects: number;
  written: number;
  keys: number;
  seedS: number;
  admin: { access_key: string; secret_key: string };
  big: string;
  native: ClientAuth;
  warm: ClientAuth[];
  /** nkeys never logged in with, and beside each the first creds file of its account (never used). */
  cold: ClientAuth[];
  nativeCold: ClientAuth[];
  warmKeys: ClientAuth[];
  /** API keys never logged in with. */
  coldKeys: ClientAuth[];
  /** API keys logged in with once through another instance (their accounts known to the server), never through the one measured. */
  knownKeys: ClientAuth[];
  probes: string[];
}

const FLEET_FILE = "bench-fleet.json";
/** The account of project `big` the create rate is measured in. */
const CREATES = "creates";

/**
 * What nats-server and the instance spent of a core while `phase` ran: a timed phase that shares
 * the machine with something else (a server answering a resolver list reads every account's file)
 * shows it here, where its figures alone would not say why they moved.
 */
async function busy<T>(pids: { server: number; mnq: number }, phase: () => Promise<T>): Promise<{ result: T; share: string }> {
  const t0 = performance.now();
  const [s0, m0] = [cpuMs(pids.server), cpuMs(pids.mnq)];
  const result = await phase();
  const wall = performance.now() - t0;
  const pct = (used: number) => `${Math.round((100 * used) / wall)}%`;
  return { result, share: `nats-server ${pct(cpuMs(pids.server) - s0)} and mnq ${pct(cpuMs(pids.mnq) - m0)} of a core over ${round(wall / 1000, 1)} s` };
}
const ENV = { MNQ_MAX_ACCOUNTS_PER_PROJECT: "10" };

async function measure(n: number): Promise<Row> {
  const dataDir = REUSE || freshDataDir();
  // a kept fleet's server first recovers its streams (a minute at a million)
  const server = await startNode(dataDir, "n1", "", REUSE ? 300_000 : undefined);
  const url = server.url;
  let mnq: Awaited<ReturnType<typeof startMnqProcess>> | undefined;
  try {
    const fleet: Fleet = REUSE ? (JSON.parse(readFileSync(join(dataDir, FLEET_FILE), "utf8")) as Fleet) : await makeFleet(n, dataDir, url);
    if (KEEP && !REUSE) {
      writeFileSync(join(dataDir, FLEET_FILE), JSON.stringify(fleet), { mode: 0o600 });
      log(`N=${n}: the fleet is kept in ${dataDir}: measure it again with --reuse ${dataDir}`);
    }
    const nativeKeyCold = await keyAccountCreds(dataDir, url, [...fleet.warmKeys, ...fleet.coldKeys, ...fleet.knownKeys], COLD_SAMPLE);
    // the known keys log in once through an instance of their own, so that the server knows their accounts
    {
      const primer = await startMnqProcess(dataDir, url, await freePort(), ENV);
      const r = await runLoad(fleet.knownKeys.length, 8, (i) => oneConnect(url, fleet.knownKeys[i]!));
      await primer.stop();
      log(`N=${n}: ${fleet.knownKeys.length} API keys logged in once through another instance (${r.failures} failed)`);
    }
    const { projects, written, keys, seedS, big, native, warm, cold, nativeCold, warmKeys, coldKeys, knownKeys, probes } = fleet;
    const key = fleet.admin;
    const env = ENV;
    // a new instance on that data
    const spawned = performance.now();
    const metricsPort = await freePort();
    mnq = await startMnqProcess(dataDir, url, metricsPort, env);
    const readyS = (performance.now() - spawned) / 1000;
    const rssStartMiB = rssMiB(mnq.pid).now;
    log(`N=${n}: ready in ${round(readyS, 2)} s, RSS ${round(rssStartMiB)} MiB`);
    // the first count of the fleet, which the instance begins at start, walks KV in the background:
    // the measures below are of an instance at rest, so they begin once it is over
    {
      const counting = performance.now();
      const statusNc = await connect({ servers: url, user: key.access_key, pass: key.secret_key });
      for (;;) {
        const m = await statusNc.request("mnq.admin.v1.status", "{}", { timeout: 10_000 });
        if (!m.headers?.get("Nats-Service-Error-Code")) break;
      }
      await statusNc.close();
      log(`N=${n}: the first count of the fleet was over ${round((performance.now() - counting) / 1000, 1)} s after ready, RSS ${round(rssMiB(mnq.pid).now)} MiB (${await memoryFigures(metricsPort)}; ${residentParts(mnq.pid)})`);
    }
    // 4. the warm-up: Zipf-like over the warm sample (and its API keys, one login in ten)
    const zipf = cumulative(warm.length);
    const zipfKeys = cumulative(warmKeys.length);
    log(`N=${n}: warm-up, ${LOGINS} logins, 50 in flight`);
    const w = await runLoad(LOGINS, 50, (i) => oneConnect(url, i % 10 === 9 ? warmKeys[draw(zipfKeys)]! : warm[draw(zipf)]!));
    const rssWarmMiB = rssMiB(mnq.pid).now;
    log(`N=${n}: warm-up ${round(w.rate)} logins/s, ${w.failures} failed, RSS ${round(rssWarmMiB)} MiB`);
    log(`N=${n}: after the warm-up, ${await memoryFigures(metricsPort)}; ${residentParts(mnq.pid)}`);
    if (process.env.BENCH_HEAP_SNAPSHOT) await heapSnapshot(mnq.pid, n);
    // After the warm-up (V8 has compiled the paths), one connect at a time: native (a creds file, one
    // identity in use; one never used, of the next cold identity's account, loading it into the
    // server; one into an API key's account never used), nkey and API key users held in memory (hot)
    // and never asked for since the start (cold: each used once). First the first logins into
    // accounts new to the server, each followed by a pause (loading an account costs the server tens
    // of ms at 20,000 accounts, and garbage its collector takes in after it), and preceded by an
    // untimed login of a hot API key: after a pause every process is asleep, and a connect through
    // the callout would pay for waking three (client, server, instance) where a native one wakes
    // two, which the connects timed back to back below never pay. Then the kinds that
    // load nothing. Each round takes its kinds in a new random order: a drift of the machine's load
    // then moves them all alike, and no kind always follows the same other one (what one leaves to
    // the server's or the instance's collector would be charged to the next).
    const firstLogins = { nativeCold, nativeKeyCold, coldApiKey: coldKeys };
    const steady = { native: [native], coldNkey: cold, knownApiKey: knownKeys, hotNkey: [warm[0]!], hotApiKey: [warmKeys[0]!] };
    const kinds = { ...firstLogins, ...steady };
    const lat = Object.fromEntries(Object.keys(kinds).map((k) => [k, [] as { ms: number; round: string }[]])) as Record<keyof typeof kinds, { ms: number; round: string }[]>;
    /**
     * Timed rounds that met the instance's own work (a quota check, a reconcile round and its
     * resolver list, a count: mnq_background_*): the figures are of unloaded connects, so these
     * are left out of them (and counted, and shown with them too). Before a timed round, a round
     * of such work under way is waited for.
     */
    const met = new Set<string>();
    let waitedMs = 0;
    let timedRounds = 0;
    // a cold kind is measured once per identity it has (a small fleet has fewer than COLD_SAMPLE of
    // some), a hot kind (one identity) in every round
    const rounds = Math.min(COLD_SAMPLE, Math.max(...Object.values(kinds).map((who) => who.length)));
    let connectFailures = 0;
    /** The service's own time (request in, answer out) per kind that asks it, from its metrics around each connect. */
    const serviceMs = Object.fromEntries(Object.keys(kinds).map((k) => [k, [] as number[]])) as Record<keyof typeof kinds, number[]>;
    const methodOf = (kind: string) => (kind.endsWith("Nkey") ? "nkey" : kind.endsWith("ApiKey") ? "api_key" : undefined);
    // Rounds by turns: one times the connects, the next reads the service's time from its metrics
    // around each. A scrape renders the metrics in the instance right before the connect it
    // brackets, and only the connects through the callout (not the native ones) can pay for it: at
    // 1,000,000 a hot nkey timed beside the scrapes was 2.1–2.5 ms over native, timed alone 1.3 ms.
    const measureConnects = async (phase: string, of: Partial<Record<keyof typeof kinds, ClientAuth[]>>, settleMs: number, primer?: ClientAuth) => {
      let quiet = await backgroundWork(metricsPort);
      for (let i = 0; i < rounds; i++) {
        const timed = i % 2 === 0;
        const roundId = `${phase}:${i}`;
        if (timed) {
          const waitFrom = performance.now();
          while (quiet.running > 0 && performance.now() - waitFrom < BACKGROUND_WAIT_MS) {
            await new Promise((r) => setTimeout(r, 250));
            quiet = await backgroundWork(metricsPort);
          }
          if (performance.now() - waitFrom > 1) {
            waitedMs += performance.now() - waitFrom;
            await new Promise((r) => setTimeout(r, Math.max(settleMs, 20)));
          }
          timedRounds++;
        }
        for (const [kind, who] of shuffled(Object.entries(of) as [keyof typeof kinds, ClientAuth[]][])) {
          const identity = who.length === 1 ? who[0]! : who[i];
          if (!identity) continue;
          const method = timed ? undefined : methodOf(kind);
          if (primer) await oneConnect(url, primer).catch(() => undefined);
          const servedBefore = method ? (await calloutSeconds(metricsPort))[method] : undefined;
          const t0 = performance.now();
          try {
            await oneConnect(url, identity);
            if (timed) lat[kind].push({ ms: performance.now() - t0, round: roundId });
          } catch {
            connectFailures++;
          }
          if (method) {
            const served = (await calloutSeconds(metricsPort))[method];
            if (served && served.count === (servedBefore?.count ?? 0) + 1) serviceMs[kind].push((served.sum - (servedBefore?.sum ?? 0)) * 1000);
          }
          if (settleMs) await new Promise((r) => setTimeout(r, settleMs));
        }
        // what ran beside the round (a timed round's read after it, before anything else asks the instance)
        const after = await backgroundWork(metricsPort);
        if (timed && (quiet.running > 0 || after.running > 0 || after.begun !== quiet.begun)) met.add(roundId);
        quiet = after;
        // the scrapes' garbage is not left to the timed round's first connect
        await new Promise((r) => setTimeout(r, Math.max(settleMs, 20)));
      }
    };
    const pids = { server: server.pid, mnq: mnq.pid };
    const firstPhase = await busy(pids, () => measureConnects("first", firstLogins, FIRST_LOGIN_SETTLE_MS, warmKeys[0]!));
    await new Promise((r) => setTimeout(r, 1000));
    const steadyPhase = await busy(pids, () => measureConnects("steady", steady, 0));
    log(`N=${n}: while the first logins were timed, ${firstPhase.share}; the other connects, ${steadyPhase.share}`);
    log(
      `N=${n}: the service's time per callout, p50: ${(Object.keys(serviceMs) as (keyof typeof kinds)[])
        .filter((k) => serviceMs[k].length > 0)
        .map((k) => `${k} ${round(serviceMs[k].sort((x, y) => x - y)[serviceMs[k].length >> 1]!, 3)} ms`)
        .join(", ")}`,
    );
    const quantiles = (ms: number[]): [number, number] => {
      const sorted = ms.sort((x, y) => x - y);
      return [round(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, 2), round(sorted[Math.floor(sorted.length * 0.99)] ?? Number.NaN, 2)];
    };
    const p = (kind: keyof typeof kinds): [number, number] => quantiles(lat[kind].filter((s) => !met.has(s.round)).map((s) => s.ms));
    const pAll = (kind: keyof typeof kinds): [number, number] => quantiles(lat[kind].map((s) => s.ms));
    log(
      `N=${n}: ${met.size} of ${timedRounds} timed rounds met the instance's own work and are left out (${round(waitedMs / 1000, 1)} s waited for it before timed rounds); ` +
        `with them, p50/p99 ms: ${(Object.keys(kinds) as (keyof typeof kinds)[]).map((k) => `${k} ${pAll(k).join(" / ")}`).join(", ")}`,
    );
    const nativeP50 = p("native")[0];
    const nativeColdP50 = p("nativeCold")[0];
    const nativeKeyColdP50 = p("nativeKeyCold")[0];
    const [coldNkey, knownApiKey, coldApiKey, hotNkey, hotApiKey] = [p("coldNkey"), p("knownApiKey"), p("coldApiKey"), p("hotNkey"), p("hotApiKey")];
    log(`N=${n}: ${rounds} rounds of unloaded connects, ${connectFailures} failed; p50/p99 ms: ${(Object.keys(kinds) as (keyof typeof kinds)[]).map((k) => `${k} ${p(k).join(" / ")}`).join(", ")}`);
    {
      const probe = await connectWithCreds(url, readFileSync(join(dataDir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
      const jsm = await jetstreamManager(probe);
      const reads = new DirectReads(probe);
      const viaClient = (subject: string) => jsm.direct.getMessage("KV_mnq-credential-keys", { last_by_subj: subject });
      const viaReads = (subject: string) => reads.last("KV_mnq-credential-keys", subject, 2000);
      const gets = async (read: (subject: string) => Promise<unknown>) => {
        const cpu = process.cpuUsage();
        const count = Math.min(300, probes.length);
        const r = await runLoad(count, 1, async (i) => {
          await read(`$KV.mnq-credential-keys.${probes[i]}`);
        });
        const used = process.cpuUsage(cpu);
        return `${round(r.p50, 3)} / ${round(r.p99, 3)} ms (${round((used.user + used.system) / count)} µs of the client's CPU each)`;
      };
      log(
        `N=${n}: direct get of an index entry from outside mnq, never read before: ${await gets(viaClient)}, again: ${await gets(viaClient)}; ` +
          `again through direct-reads (as the instance reads): ${await gets(viaReads)}`,
      );
      await probe.close();
    }
    // 5. list pages
    const adminAgain = await connect({ servers: url, user: key.access_key, pass: key.secret_key });
    const orders = ["created_at_asc", "created_at_desc", "name_asc", "updated_at_desc"];
    const pages = async (body: Record<string, unknown>, pagesOf: number) => {
      const t0 = performance.now();
      await api(adminAgain, "mnq.api.v1.big.nats-credentials.list", body);
      const first = performance.now() - t0;
      const r = await runLoad(
        PAGES,
        1,
        (i) => api(adminAgain, "mnq.api.v1.big.nats-credentials.list", { ...body, page: 1 + Math.floor(Math.random() * (pagesOf / 20)), order_by: orders[i % orders.length] }).then(() => undefined),
        undefined,
        PAGE_BOUND_MS,
      );
      return { first: round(first, 2), p: [round(r.p50, 2), round(r.p99, 2)] as [number, number], slow: r.slow };
    };
    const collectedBefore = await collections(metricsPort);
    const { result: list, share: listShare } = await busy(pids, () => pages({ nats_account_id: big }, BIG));
    const { result: project, share: projectShare } = await busy(pids, () => pages({}, BIG + SECOND));
    log(`N=${n}: ${PAGES} pages each, over ${PAGE_BOUND_MS} ms: ${list.slow} of an account's, ${project.slow} of a project's; while an account's pages were timed, ${listShare}; a project's, ${projectShare}`);
    log(`N=${n}: V8's collections during the list pages: ${collectedBetween(collectedBefore, await collections(metricsPort))}`);
    // 6. create rate in a fresh account, deleted after (a kept fleet stays as it was made: its
    // project has room for one account more than its two)
    const leftover = await api<{ nats_accounts: { id: string }[] }>(adminAgain, "mnq.api.v1.big.nats-accounts.list", { name: CREATES });
    for (const { id } of leftover.nats_accounts) await api(adminAgain, "mnq.api.v1.big.nats-accounts.delete", { nats_account_id: id });
    const fresh = await api<{ id: string }>(adminAgain, "mnq.api.v1.big.nats-accounts.create", { name: CREATES });
    const creates = await runLoad(2000, 20, () => api(adminAgain, "mnq.api.v1.big.nats-credentials.create", { nats_account_id: fresh.id }).then(() => undefined));
    await api(adminAgain, "mnq.api.v1.big.nats-accounts.delete", { nats_account_id: fresh.id });
    await adminAgain.close();
    return {
      credentials: written,
      apiKeys: keys,
      projects: projects + 1,
      seedS: round(seedS),
      readyS: round(readyS, 2),
      rssStartMiB: round(rssStartMiB),
      rssWarmMiB: round(rssWarmMiB),
      warmFailures: w.failures,
      nativeP50,
      nativeColdP50,
      nativeKeyColdP50,
      hotNkey,
      coldNkey,
      hotApiKey,
      knownApiKey,
      coldApiKey,
      listFirstMs: list.first,
      list: list.p,
      projectFirstMs: project.first,
      projectList: project.p,
      createRate: round(creates.rate),
    };
  } finally {
    await mnq?.stop();
    await server.stop();
    if (!KEEP && !REUSE) removeDir(dataDir);
  }
}

/**
 * Creds files into API keys' accounts never logged into (keys not in `used`), up to `count`: a user
 * signed with the account's signing key as the key record carries it. Their first login makes the
 * server load an account like an API key's first login does (an API key's account imports the
 * project's API from MNQ, a tenant account does not), without the callout.
 */
async function keyAccountCreds(dataDir: string, url: string, used: ClientAuth[], count: number): Promise<ClientAuth[]> {
  const skip = new Set(used.map((k) => (k.kind === "userpass" ? k.user : "")));
  const svc = await connectWithCreds(url, readFileSync(join(dataDir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
  const vault = new SeedVault(loadTrust(dataDir).masterKey);
  const out: ClientAuth[] = [];
  try {
    const store = await Store.open(svc, { replicas: 1, timeout: 30_000 });
    for await (const e of store.apiKeys.scan("", 1000)) {
      if (!e.value) continue;
      const rec = JSON.parse(new TextDecoder().decode(e.value)) as ApiKeyRecord;
      if (skip.has(rec.access_key) || !rec.client_account || !rec.client_signing_seed) continue;
      const user = createUser();
      const jwt = userJwt({ name: "bench", user: user.getPublicKey(), account: rec.client_account }, vault.signer(rec.client_signing_seed, rec.client_account, "account"));
      out.push({ kind: "creds", jwt, seed: new TextDecoder().decode(user.getSeed()) });
      if (out.length >= count) break;
    }
  } finally {
    await svc.close();
  }
  return out;
}

async function makeFleet(n: number, dataDir: string, url: string): Promise<Fleet> {
  const projects = Math.max(20, Math.round(n / 50));
  let mnq: Awaited<ReturnType<typeof startMnqProcess>> | undefined = await startMnqProcess(dataDir, url, await freePort(), ENV);
  try {
    const key = JSON.parse(readFileSync(join(dataDir, DataFile.adminApiKey), "utf8")) as { access_key: string; secret_key: string };
    const admin = await connect({ servers: url, user: key.access_key, pass: key.secret_key });
    // 1. accounts through the API (their JWTs must reach the resolver), one per project, and the big project's two
    log(`N=${n}: ${projects} projects with one account each, through the API`);
    const accounts = await bounded(projects, 32, async (i) => {
      const a = await api<{ id: string }>(admin, `mnq.api.v1.p${i}.nats-accounts.create`, {});
      return { project: `p${i}`, id: a.id };
    });
    const big = await api<{ id: string }>(admin, "mnq.api.v1.big.nats-accounts.create", { name: "big" });
    const second = await api<{ id: string }>(admin, "mnq.api.v1.big.nats-accounts.create", { name: "second" });
    const keyProjects = accounts.filter((_, i) => i % 20 === 0).map((a) => a.project);
    // the API keys through the API too: each is an account of its own, whose JWT the resolver must hold
    const keysPer = Math.ceil(n / 10 / keyProjects.length);
    // one key in `keyEvery` is kept cold, so that a small fleet has as many as a large one (up to COLD_SAMPLE of each kind)
    const keyEvery = Math.max(3, Math.min(41, Math.floor((keysPer * keyProjects.length) / (2 * COLD_SAMPLE))));
    const warmKeys: ClientAuth[] = [];
    const coldKeys: ClientAuth[] = [];
    const knownKeys: ClientAuth[] = [];
    let keys = 0;
    const keysStarted = performance.now();
    log(`N=${n}: ${keysPer * keyProjects.length} API keys through the API, each with its account`);
    await bounded(keysPer * keyProjects.length, 32, async (i) => {
      const made = await api<{ access_key: string; secret_key: string }>(admin, "mnq.admin.v1.api-keys.create", { project_id: keyProjects[i % keyProjects.length], name: `k${i}` });
      const seq = keys++;
      const who: ClientAuth = { kind: "userpass", user: made.access_key, pass: made.secret_key };
      if (seq % keyEvery === keyEvery - 1) {
        // the cold keys by turns: never logged in with, or once through another instance
        const into = Math.floor(seq / keyEvery) % 2 === 0 ? coldKeys : knownKeys;
        if (into.length < COLD_SAMPLE) into.push(who);
      } else if (seq % 5 === 0 && warmKeys.length < 2000) warmKeys.push(who);
      if (keys % 10_000 === 0) log(`N=${n}: ${keys} API keys made`);
    });
    const keyRate = keys / ((performance.now() - keysStarted) / 1000);
    log(`N=${n}: ${keys} API keys made, ${round(keyRate)}/s`);
    await admin.close();
    await mnq.stop();
    mnq = undefined;

    // 2. the fleet, written into KV by the product's own builders
    const started = performance.now();
    const svc = await connectWithCreds(url, readFileSync(join(dataDir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
    const store = await Store.open(svc, { replicas: 1, timeout: 30_000 });
    const trust = loadTrust(dataDir);
    const vault = new SeedVault(trust.masterKey);
    const record = async (project: string, id: string) => (await store.accounts.get(Store.accountKey(project, id)))!.value;
    const plan: { account: AccountRecord; count: number }[] = [
      { account: await record("big", big.id), count: BIG },
      { account: await record("big", second.id), count: SECOND },
    ];
    const rest = Math.max(0, n - BIG - SECOND);
    for (let i = 0; i < accounts.length; i++) {
      const count = Math.floor(rest / accounts.length) + (i < rest % accounts.length ? 1 : 0);
      if (count > 0) plan.push({ account: await record(accounts[i]!.project, accounts[i]!.id), count });
    }
    const warm: ClientAuth[] = [];
    const cold: ClientAuth[] = [];
    let native: ClientAuth | undefined;
    /** Index keys never logged in with: one direct get each, from outside mnq (what a cold read costs nats-server). */
    const probes: string[] = [];
    /**
     * The first credential of each cold identity's account, as a creds file never used: connected
     * natively right before the cold identity, it loads the account into nats-server (a cost of the
     * server's, tens of ms at 20,000 accounts, that a native connect pays alike), so the cold
     * identity's connect measures what is mnq's: an identity it does not hold.
     */
    const nativeCold: ClientAuth[] = [];
    let written = 0;
    const every = Math.max(1, Math.floor(n / (WARM_SAMPLE + 41 * COLD_SAMPLE)));
    for (const { account, count } of plan) {
      const signer = vault.signer(account.signing_seed, account.id, "account");
      // the account's first credential: a cold identity's partner (see the unloaded connects)
      let first: ClientAuth | undefined;
      await bounded(count, 256, async (i) => {
        const c = buildCredentials(account, signer, { name: `c${i}` });
        if (i === 0) {
          const { jwt, seed } = parseCreds(c.file);
          first = { kind: "creds", jwt, seed };
        }
        await store.credentialKeys.create(c.index_key, c.index);
        await store.credentials.create(c.key, c.record);
        const seq = written++;
        if (seq % every === 0) {
          const { jwt, seed } = parseCreds(c.file);
          native ??= { kind: "creds", jwt, seed };
          // one sampled identity in 41 is kept cold (never logged in before its measure)
          const slot = seq / every;
          if (slot % 41 === 40) {
            if (cold.length < COLD_SAMPLE && first && i > 0) {
              cold.push({ kind: "nkey", seed });
              nativeCold.push(first);
            }
          } else if (slot % 41 === 39) {
            if (probes.length < COLD_SAMPLE) probes.push(c.index_key);
          } else if (warm.length < WARM_SAMPLE) warm.push({ kind: "nkey", seed });
        }
        if (written % 50_000 === 0) log(`N=${n}: ${written} credentials written`);
      });
    }
    const seedS = (performance.now() - started) / 1000;
    log(`N=${n}: ${written} credentials and ${keys} API keys written in ${round(seedS)} s`);
    await svc.close();
    return {
      n, projects: projects + 1, written, keys, seedS, admin: key, big: big.id,
      native: native!, warm, cold, nativeCold, warmKeys, coldKeys, knownKeys, probes,
    };
  } finally {
    await mnq?.stop();
  }
}

/** Cumulative weights 1/r for ranks 1..n. */
function cumulative(n: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let r = 1; r <= n; r++) out.push((sum += 1 / r));
  return out;
}

/** A copy of `items` in a random order (Fisher–Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A rank drawn with weight 1/r (binary search of the cumulative weights). */
function draw(cum: number[]): number {
  const x = Math.random() * cum[cum.length - 1]!;
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const rows: Row[] = [];
for (const n of REUSE ? [(JSON.parse(readFileSync(join(REUSE, FLEET_FILE), "utf8")) as Fleet).n] : SIZES) {
  rows.push(await measure(n));
  log(`N=${n}: ${JSON.stringify(rows[rows.length - 1])}`);
}
const pair = (p: [number, number]) => `${p[0]} / ${p[1]}`;
console.log(
  [
    "| credentials | API keys | projects | ready s | RSS after start MiB | RSS after warm-up MiB | native connect p50 ms (one in use / never used, its account new to the server / the same into an API key's account) | hot nkey p50/p99 ms | cold nkey p50/p99 ms | hot API key p50/p99 ms | cold API key p50/p99 ms (its account known to the server / new to it too) | 5,000-credential account: first page ms, then p50/p99 | project (6,000): first page ms, then p50/p99 | creates/s (× 1,000/s before) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      [
        "",
        r.credentials.toLocaleString("en"),
        r.apiKeys.toLocaleString("en"),
        r.projects.toLocaleString("en"),
        r.readyS,
        r.rssStartMiB,
        `${r.rssWarmMiB}${r.warmFailures ? ` (${r.warmFailures} logins failed)` : ""}`,
        `${r.nativeP50} / ${r.nativeColdP50} / ${r.nativeKeyColdP50}`,
        pair(r.hotNkey),
        pair(r.coldNkey),
        pair(r.hotApiKey),
        `${pair(r.knownApiKey)}; ${pair(r.coldApiKey)}`,
        `${r.listFirstMs}, ${pair(r.list)}`,
        `${r.projectFirstMs}, ${pair(r.projectList)}`,
        `${r.createRate} (${round(r.createRate / CREATE_RATE_BASELINE, 2)})`,
        "",
      ].join(" | ").trim(),
    ),
  ].join("\n"),
);

// each figure against the target the issue names for it (ratio ≤ 1 meets it; creates: ≥ 1)
const ratio = (v: number, target: number) => round(v / target, 2);
console.log(
  [
    "",
    "| credentials | ready ÷ 10 s | RSS after warm-up ÷ 256 MiB | cold nkey p50 − native in use ÷ 2 ms | cold API key p50 − native in use ÷ 2 ms | first login of an API key p50 − native first login into another API key's account ÷ 2 ms (into a tenant account) | account page p99 ÷ 50 ms | project page p99 ÷ 50 ms | creates/s ÷ 1,000/s |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      [
        "",
        r.credentials.toLocaleString("en"),
        ratio(r.readyS, 10),
        ratio(r.rssWarmMiB, 256),
        ratio(r.coldNkey[0] - r.nativeP50, 2),
        ratio(r.knownApiKey[0] - r.nativeP50, 2),
        `${ratio(r.coldApiKey[0] - r.nativeKeyColdP50, 2)} (${ratio(r.coldApiKey[0] - r.nativeColdP50, 2)})`,
        ratio(r.list[1], 50),
        ratio(r.projectList[1], 50),
        ratio(r.createRate, CREATE_RATE_BASELINE),
        "",
      ].join(" | ").trim(),
    ),
  ].join("\n"),
);
