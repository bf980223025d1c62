import { resolve } from "node:path";
import { Ajv } from "ajv";
import configSchema from "../schemas/config.json" with { type: "json" };

/** mnq's configuration, read once from `MNQ_*` environment variables by `loadConfig`. */
export interface Config {
  /** Absolute data directory: keys, creds, server include, stores. */
  dataDir: string;
  /** External NATS URL(s), comma-separated as given; undefined means the embedded server. */
  natsUrl: string | undefined;
  /** The same, one URL each (a cluster's nodes). */
  natsServers: string[] | undefined;
  /** Client port of the embedded server. */
  natsPort: number;
  /** Region shown on accounts. */
  region: string;
  /** URL clients connect to, shown on accounts. */
  endpoint: string;
  /** Replicas of the KV buckets. */
  kvReplicas: number;
  /** Master key from the environment (hex/base64); undefined: the data dir's key file. */
  masterKey: string | undefined;
  /** Limits for every tenant account. */
  quota: QuotaConfig;
  /** Accounts a project may hold. */
  maxAccountsPerProject: number;
  /** Bound of an account's credentials plus revoked ones (its JWT's revocation list). */
  maxRevocations: number;
  /** API requests of one project an instance handles at once. */
  apiInFlightPerProject: number;
  /** Lifetime of callout-issued user JWTs, seconds. */
  sessionTtlSeconds: number;
  /** Interval of the storage quota check, ms. */
  quotaCheckMs: number;
  /** Interval of the reconcile of resolvers and records with KV, ms. */
  reconcileMs: number;
  /** Timeout of the service's requests to the server, ms. */
  requestTimeoutMs: number;
  /** The mnq commands' project when --project is not given. */
  project: string | undefined;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

export interface QuotaConfig {
  storageBytes: number;
  memoryBytes: number;
  streams: number;
  consumers: number;
  maxPayload: number;
  connections: number;
  subscriptions: number;
  /** Streams must name max_bytes; reservations are checked against the storage quota (exact). */
  maxBytesRequired: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;
type Settings = {
  MNQ_DATA_DIR: string;
  MNQ_NATS_URL?: string;
  MNQ_NATS_PORT: number;
  MNQ_REGION: string;
  MNQ_ENDPOINT?: string;
  MNQ_KV_REPLICAS: number;
  MNQ_MASTER_KEY?: string;
  MNQ_ACCOUNT_STORAGE_BYTES: number;
  MNQ_ACCOUNT_MEMORY_BYTES: number;
  MNQ_ACCOUNT_STREAMS: number;
  MNQ_ACCOUNT_CONSUMERS: number;
  MNQ_ACCOUNT_MAX_PAYLOAD: number;
  MNQ_ACCOUNT_CONNECTIONS: number;
  MNQ_ACCOUNT_SUBSCRIPTIONS: number;
  MNQ_ACCOUNT_MAX_BYTES_REQUIRED: boolean;
  MNQ_MAX_ACCOUNTS_PER_PROJECT: number;
  MNQ_MAX_REVOCATIONS: number;
  MNQ_API_IN_FLIGHT_PER_PROJECT: number;
  MNQ_SESSION_TTL: number;
  MNQ_QUOTA_CHECK_MS: number;
  MNQ_RECONCILE_MS: number;
  MNQ_REQUEST_TIMEOUT_MS: number;
  MNQ_PROJECT?: string;
  MNQ_LOG_LEVEL: Config["logLevel"];
};

// Environment values are strings: coerce them to the schema's types, and fill in defaults.
const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true });
const validateSettings = ajv.compile<Settings>(configSchema);
const known = new Set(Object.keys(configSchema.properties));

/** The configuration settings with their defaults and descriptions, for help text and docs. */
export const settings: ReadonlyArray<{ name: string; default: unknown; description: string }> = Object.entries(
  configSchema.properties,
).map(([name, p]) => ({ name, default: (p as { default?: unknown }).default, description: p.description }));

/**
 * Reads and checks every `MNQ_*` variable; throws ConfigError naming each bad one.
 * An unknown `MNQ_*` name is refused too: it is almost always a typo.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Readonly<Config> {
  const raw: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("MNQ_") || value === undefined || value === "") continue;
    if (known.has(name)) raw[name] = value;
    else if (!name.startsWith("MNQ_TEST_")) unknown.push(name);
  }
  if (unknown.length > 0) throw new ConfigError(`unknown setting ${unknown.join(", ")} (see mnq --help for the list)`);
  if (!validateSettings(raw)) {
    const problems = (validateSettings.errors ?? []).map((e) => {
      const name = e.instancePath.replace(/^\//, "");
      const shown = name === "MNQ_MASTER_KEY" ? "(hidden)" : JSON.stringify(env[name]);
      return `${name} ${e.message} (got ${shown})`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const s = raw as unknown as Settings;
  const natsUrl = s.MNQ_NATS_URL;
  return Object.freeze({
    dataDir: resolve(cwd, s.MNQ_DATA_DIR),
    natsUrl,
    natsServers: natsUrl?.split(",").filter((u) => u !== ""),
    natsPort: s.MNQ_NATS_PORT,
    region: s.MNQ_REGION,
    endpoint: s.MNQ_ENDPOINT ?? natsUrl ?? `nats://127.0.0.1:${s.MNQ_NATS_PORT}`,
    kvReplicas: s.MNQ_KV_REPLICAS,
    masterKey: s.MNQ_MASTER_KEY,
    quota: Object.freeze({
      storageBytes: s.MNQ_ACCOUNT_STORAGE_BYTES,
      memoryBytes: s.MNQ_ACCOUNT_MEMORY_BYTES,
      streams: s.MNQ_ACCOUNT_STREAMS,
      consumers: s.MNQ_ACCOUNT_CONSUMERS,
      maxPayload: s.MNQ_ACCOUNT_MAX_PAYLOAD,
      connections: s.MNQ_ACCOUNT_CONNECTIONS,
      subscriptions: s.MNQ_ACCOUNT_SUBSCRIPTIONS,
      maxBytesRequired: s.MNQ_ACCOUNT_MAX_BYTES_REQUIRED,
    }),
    maxAccountsPerProject: s.MNQ_MAX_ACCOUNTS_PER_PROJECT,
    maxRevocations: s.MNQ_MAX_REVOCATIONS,
    apiInFlightPerProject: s.MNQ_API_IN_FLIGHT_PER_PROJECT,
    sessionTtlSeconds: s.MNQ_SESSION_TTL,
    quotaCheckMs: s.MNQ_QUOTA_CHECK_MS,
    reconcileMs: s.MNQ_RECONCILE_MS,
    requestTimeoutMs: s.MNQ_REQUEST_TIMEOUT_MS,
    project: s.MNQ_PROJECT,
    logLevel: s.MNQ_LOG_LEVEL,
  });
}
