import { type NatsConnection, nuid } from "@nats-io/nats-core";
import type { Service } from "@nats-io/services";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { Accounts } from "./accounts/index.ts";
import { EventPublisher } from "./api/events.ts";
import { clientTls } from "./tls/index.ts";
import { EndpointStats, Metrics, type Observe, type ObserveServer, Readiness, startObserveServer } from "./observe/index.ts";
import { type ApiContext, ensureAdminApiKeyFile, SERVICE_NAME, startApiService } from "./api/index.ts";
import { addCalloutEndpoint, type CalloutDeps, StandbyCallout } from "./callout/index.ts";
import { loadTrust } from "./bootstrap/index.ts";
import type { Config } from "./config/index.ts";
import { SecretMac, SeedVault } from "./identity/index.ts";
import type { Logger } from "./runtime/log.ts";
import { accountLimits, QuotaMonitor } from "./quota/index.ts";
import { InFlight } from "./runtime/in-flight.ts";
import { BackgroundWork } from "./runtime/background.ts";
import { ConnectionTable, ResolverClient } from "./resolver/index.ts";
import { AdmissionGate, Fence, type RevokeDeps, serveFence } from "./revocation/index.ts";
import { type AccountRecord, FleetCounter, type OpenedViews, openViews, ResetReason, Store, type StoreViews, VIEWED_BUCKETS } from "./store/index.ts";
import { frozenView } from "./runtime/faults.ts";
import { ApiKeys } from "./api-keys/index.ts";
import { Credentials } from "./credentials/index.ts";
import { VERSION } from "./runtime/version.ts";

/** `/readyz` answers 503 while a view is further behind its stream than this. */
const MAX_READY_LAG_SECONDS = 2;

/** A running mnq instance. */
export interface MnqService {
  readonly nc: NatsConnection;
  readonly sys: NatsConnection;
  readonly service: Service;
  readonly ctx: ApiContext;
  /** The account lifecycle (the API's view of it is `ctx.accounts`). */
  readonly accounts: Accounts;
  /** The KV buckets (all of the state). */
  readonly store: Store;
  /** The instance's bounded copies of them. */
  readonly views: StoreViews;
  /** The `$SYS` wire to the servers' resolvers. */
  readonly resolver: ResolverClient;
  /** The fence and the connection tables a delete closes an owner's connections through. */
  readonly revoke: RevokeDeps;
  /** The storage quota check publishing quota events. */
  readonly quota: QuotaMonitor;
  /** `<data dir>/admin-api-key.json`: the admin API key made on the first start. */
  readonly adminKeyFile: string;
  /** Requests being handled now. */
  readonly inFlight: InFlight;
  /** What the auth callout works with (its views, keys and admission gate). */
  readonly calloutDeps: CalloutDeps;
  /** What handlers report their answers to: the Prometheus metrics (served on MNQ_METRICS_PORT) and `$SRV.STATS`. */
  readonly observe: Observe;
  /** The port of the metrics listener, when MNQ_METRICS_PORT is set. */
  readonly metricsPort: number | undefined;
  /** The records the instance's views hold: bytes (estimated), the bound, entries, evictions so far. */
  cache(): { bytes: number; maxBytes: number; entries: number; evictions: number };
  /** Settles once the reconcile begun at start (every account pushed, half-done deletes finished) is over; readiness does not wait for it. */
  readonly reconciled: Promise<void>;
  /** Stops taking requests, answers those in flight, closes the connections. */
  stop(): Promise<void>;
}

/**
 * Starts one mnq instance against `servers` (or `cfg.natsUrl`): connects as the service and system
 * users, opens the KV buckets, reconciles the resolvers with KV, and registers the micro service.
 */
export async function startService(cfg: Readonly<Config>, log: Logger, servers?: string | string[]): Promise<MnqService> {
  const trust = loadTrust(cfg.dataDir, cfg.masterKey);
  const target = servers ?? cfg.natsServers;
  if (!target) throw new Error("no NATS server to connect to");
  const enc = new TextEncoder();
  // noAsyncTraces: nats.js otherwise builds an Error (a stack capture) per request up front, a
  // large share of the CPU of the callout's KV round trips.
  const common = { servers: target, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true, ...clientTls(cfg) };
  // A private inbox prefix: MNQ users that may subscribe to `_INBOX.>` (admins) do not see the
  // service's own JetStream replies.
  const asService = (to: string | string[], name: string, creds = trust.serviceCreds) =>
    connect({ ...common, servers: to, name, inboxPrefix: "_MNQ_INBOX", authenticator: credsAuthenticator(enc.encode(creds)) });
  // The store's connection (KV, JetStream, events, fence requests) subscribes to nothing anyone
  // else publishes; what answers requests (API, $SRV, callout, fence) may publish only to inboxes.
  const nc = await asService(target, "mnq-store");
  const api = await asService(target, "mnq", trust.responderCreds);
  // walks of whole key ranges (group loads, counts, reconcile rounds): never ahead of a point read in one socket
  const bulk = await asService(target, "mnq-bulk");
  const asSys = (name: string) => connect({ ...common, name, authenticator: credsAuthenticator(enc.encode(trust.sysCreds)) });
  const sys = await asSys("mnq-sys");
  // the resolvers' lists of accounts, which a server takes seconds to answer at a large fleet (and
  // reads nothing more from the connection meanwhile): never ahead of a push, a lookup, a kick or a
  // quota check in one socket
  const sysBulk = await asSys("mnq-sys-bulk");
  // what the gauges read, once open
  let opened: OpenedViews | undefined;
  let counts: FleetCounter | undefined;
  let quota: QuotaMonitor | undefined;
  const background = new BackgroundWork();
  const metrics = new Metrics(
    {
      accounts: async () => (await counts?.forScrape())?.nats_accounts ?? 0,
      credentials: async () => (await counts?.forScrape())?.nats_credentials ?? 0,
      apiKeys: async () => (await counts?.forScrape())?.api_keys ?? 0,
      storage: () => quota?.storage() ?? [],
      viewLag: () => opened?.lag() ?? [],
      cache: () => opened?.cache() ?? { bytes: 0, maxBytes: cfg.cacheMib * 1024 * 1024, entries: 0, evictions: 0 },
      background: () => background.figures(),
    },
    { buckets: VIEWED_BUCKETS, reasons: Object.values(ResetReason) },
  );
  const observe: Observe = { metrics, stats: new EndpointStats() };
  const readiness = new Readiness([nc, api, sys, bulk, sysBulk]);
  // A copy more than 2 s behind its stream: not ready (the callout reads through to KV meanwhile).
  readiness.require(() => {
    const behind = (opened?.lag() ?? []).filter((v) => v.seconds > MAX_READY_LAG_SECONDS);
    return behind.length ? `behind: ${behind.map((v) => `${v.bucket} ${v.seconds.toFixed(1)} s`).join(", ")}` : undefined;
  });
  let http: ObserveServer | undefined;
  let standby: StandbyCallout | undefined;
  try {
    // first, so that a port in use stops the start before anything runs
    if (cfg.metricsPort !== undefined) {
      http = await startObserveServer({ host: cfg.metricsHost, port: cfg.metricsPort, metrics, notReady: () => readiness.reasons }).catch((err: unknown) => {
        throw new Error(`MNQ_METRICS_PORT: cannot listen on ${cfg.metricsHost}:${cfg.metricsPort}: ${(err as Error).message}`);
      });
    }
    const store = await Store.open(nc, { replicas: cfg.kvReplicas, timeout: cfg.requestTimeoutMs, bulk });
    const vault = new SeedVault(trust.masterKey);
    const secrets = new SecretMac(trust.masterKey);
    // each view follows its bucket's writes from now on, and holds what is read, within MNQ_CACHE_MIB
    const views = await openViews(store, {
      cacheBytes: cfg.cacheMib * 1024 * 1024,
      onReset: (bucket, reason) => {
        metrics.viewReset(bucket, reason);
        log.warn({ bucket, reason }, "view feed made anew");
      },
      frozen: frozenView(),
    });
    opened = views;
    const resolver = new ResolverClient(sys, trust.operatorSigner, cfg.requestTimeoutMs, (op) => metrics.resolverFailure(op), sysBulk);
    await checkMasterKey(views, vault);
    const revoke = { fence: new Fence(nc, SERVICE_NAME), connections: new ConnectionTable(sys, resolver, cfg.requestTimeoutMs) };
    const accounts = new Accounts({
      store,
      views,
      vault,
      resolver,
      revoke,
      sys,
      operatorSigner: trust.operatorSigner,
      limits: accountLimits(cfg.quota),
      mnqAccount: trust.mnqAccount,
      sysAccount: trust.sysAccount,
      servers: target,
      clientTls: clientTls(cfg),
      maxAccountsPerProject: cfg.maxAccountsPerProject,
      requestTimeoutMs: cfg.requestTimeoutMs,
      reconcileMs: cfg.reconcileMs,
      log,
      background,
    });
    const events = new EventPublisher(nc, metrics);
    counts = new FleetCounter(store, background);
    const credentials = new Credentials({ store, views, vault, accounts, revoke, maxRevocations: cfg.maxRevocations, log });
    const apiKeys = new ApiKeys({ store, views, secrets, accounts, revoke, log });
    const servers = () => resolver.servers();
    const ctx: ApiContext = { cfg, version: VERSION, accounts, credentials, apiKeys, servers, log, events, observe, counts };
    // Every account pushed to the resolvers, half-done deletes finished: in the background, a walk
    // over the fleet that readiness does not wait for (a resolver that lost an account gets it back
    // a moment after the start instead of holding every instance's start up).
    const startup = accounts
      .reconcile(true)
      .then((report) => log.info(report, "resolvers reconciled with KV"))
      .catch((err: unknown) => log.warn({ err: String(err) }, "reconcile at start failed; the next round retries"));
    const inFlight = new InFlight();
    // The gate is fenced before the callout admits anyone: a delete reaches every instance there.
    // A fenced owner stays refused until this instance's copy holds the delete.
    const gate = new AdmissionGate((bucket) => views.applied(bucket));
    const instance = nuid.next();
    const fenceSub = serveFence(api, gate, log.child({ component: "fence" }), instance);
    const service = await startApiService(api, ctx, VERSION, inFlight);
    const calloutDeps: CalloutDeps = {
      vault,
      log: log.child({ component: "callout" }),
      mnqAccount: trust.mnqAccount,
      mnqSigner: trust.mnqSigner,
      xkey: trust.xkey,
      sealed: trust.calloutSealed,
      sessionTtlSeconds: cfg.sessionTtlSeconds,
      views,
      gate,
      observe,
      secrets,
    };
    // an admitting response is also sent through the standby's server, unless it came in on the asking server (see echoed)
    const responder = addCalloutEndpoint(service, calloutDeps, inFlight, { from: api, to: () => standby?.connection });
    // The callout (and the fence) also on a second server: a node's loss never leaves the instance unsubscribed.
    const targets = typeof target === "string" ? target.split(",") : target;
    standby = await StandbyCallout.start({
      servers: targets,
      primary: api,
      connect: (servers) => asService(servers, "mnq-standby", trust.responderCreds),
      responder,
      gate,
      inFlight,
      instance,
      log: log.child({ component: "standby" }),
    });
    const adminKeyFile = await ensureAdminApiKeyFile(ctx);
    quota = new QuotaMonitor({
      store,
      accounts: views.accounts,
      sys,
      quotaBytes: cfg.quota.storageBytes,
      maxPayload: cfg.quota.maxPayload,
      intervalMs: cfg.quotaCheckMs,
      timeoutMs: cfg.requestTimeoutMs,
      log: log.child({ component: "quota" }),
      publish: (event) => events.quota(event),
      background,
    });
    quota.start();
    // the rounds every MNQ_RECONCILE_MS begin once the first is over
    let stopping = false;
    void startup.then(() => {
      if (stopping) return;
      accounts.start();
      counts?.begin();
    });
    // Ready means the servers hold every subscription (API, callout, fence): one round trip.
    await Promise.all([nc.flush(), api.flush()]);
    readiness.started();
    if (http) log.info({ url: `http://${cfg.metricsHost}:${http.port}/metrics` }, "metrics, /healthz and /readyz served");
    log.info({ version: VERSION, instance: service.info().id }, "mnq service started");
    return {
      nc,
      sys,
      service,
      ctx,
      accounts,
      store,
      views,
      resolver,
      revoke,
      adminKeyFile,
      quota,
      inFlight,
      calloutDeps,
      observe,
      metricsPort: http?.port,
      reconciled: startup,
      cache: () => views.cache(),
      async stop() {
        readiness.stopping();
        stopping = true;
        // a walk over KV that a dead server holds up is not waited for past the timeout
        await Promise.race([startup, new Promise((r) => setTimeout(r, cfg.requestTimeoutMs).unref())]);
        await quota!.stop();
        await accounts.stop();
        // No new requests; those taken are answered before the connection drains.
        await service.stop().catch(() => undefined);
        await standby?.stop();
        await inFlight.settled(2 * cfg.requestTimeoutMs);
        await views.stop();
        fenceSub.unsubscribe();
        // a drain waits for the server: bounded, for a stop while it is unreachable
        await Promise.all([nc, api, sys, bulk, sysBulk].map((c) => drainWithin(c, cfg.requestTimeoutMs)));
        await http?.close();
      },
    };
  } catch (err) {
    await http?.close();
    await standby?.stop();
    await opened?.stop();
    await Promise.all([nc, api, sys, bulk, sysBulk].map((c) => c.close()));
    throw err;
  }
}

/**
 * Refuses to start when the master key does not open the seeds KV holds (another data dir's key,
 * a wrong MNQ_MASTER_KEY): every signature of those accounts would fail later, one request at a time.
 */
async function checkMasterKey(views: StoreViews, vault: SeedVault): Promise<void> {
  let sample: AccountRecord | undefined;
  for await (const { value } of views.accounts.scan()) {
    if (value.state !== "active") continue;
    sample = value;
    break;
  }
  if (!sample) return;
  try {
    vault.open(sample.signing_seed, sample.id);
  } catch {
    throw new Error("the master key (MNQ_MASTER_KEY, else <data dir>/master.key) does not open the account seeds stored in KV: start with the key they were sealed with");
  }
}

/** Drains a connection, or closes it when the drain has not finished within `ms`. */
async function drainWithin(nc: NatsConnection, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([nc.drain().catch(() => undefined), late]);
  clearTimeout(timer);
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
}
