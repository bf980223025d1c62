import type { FromSchema, JSONSchema } from "json-schema-to-ts";

/**
 * Every `MNQ_*` setting, declared once: its JSON Schema (type, bounds, default), its description
 * (help text, README, schemas/config.json) and where it lands in `Config` (`key`, in `group`).
 * The types of `Config`, the schema ajv checks and the help text are all derived from this table.
 */
export const settingTable = {
  MNQ_DATA_DIR: { key: "dataDir", schema: { type: "string", minLength: 1, default: ".mnq" }, description: "Keys, creds, server include, JetStream and resolver stores (0700, files 0600)." },
  MNQ_NATS_URL: { key: "natsUrl", schema: { type: "string", pattern: "^(nats|tls)://[^\\s,]+(,(nats|tls)://[^\\s,]+)*$" }, description: "Connect to this NATS server (or these, comma-separated: a cluster's nodes) instead of starting the embedded one." },
  MNQ_NATS_PORT: { key: "natsPort", schema: { type: "integer", minimum: 1, maximum: 65535, default: 4222 }, description: "Client port of the embedded nats-server (127.0.0.1)." },
  MNQ_REGION: { key: "region", schema: { type: "string", pattern: "^[a-z0-9-]{1,32}$", default: "local" }, description: "Region name shown on accounts." },
  MNQ_ENDPOINT: { key: "endpoint", schema: { type: "string", pattern: "^(nats|tls|ws|wss)://[^\\s]+$" }, description: "URL clients connect to, shown on accounts (default: the server URL)." },
  MNQ_KV_REPLICAS: { key: "kvReplicas", schema: { type: "integer", minimum: 1, maximum: 5, default: 1 }, description: "Replicas of the KV buckets (3 in a cluster; more than 1 needs MNQ_NATS_URL)." },
  MNQ_MASTER_KEY: { key: "masterKey", schema: { type: "string" }, secret: true, description: "32-byte key (64 hex) encrypting tenant seeds; default: <data dir>/master.key." },
  MNQ_ACCOUNT_STORAGE_BYTES: { group: "quota", key: "storageBytes", schema: { type: "integer", minimum: -1, default: 314572800 }, description: "JetStream disk quota per account, replicas counted (-1 unlimited)." },
  MNQ_ACCOUNT_MEMORY_BYTES: { group: "quota", key: "memoryBytes", schema: { type: "integer", minimum: -1, default: 0 }, description: "JetStream memory quota per account (0 refuses memory streams)." },
  MNQ_ACCOUNT_MAX_BYTES_REQUIRED: { group: "quota", key: "maxBytesRequired", schema: { type: "boolean", default: false }, description: "Exact quota: every stream must set max_bytes, and max_bytes × replicas is reserved against the storage quota when the stream is made (no overshoot under replication)." },
  MNQ_ACCOUNT_STREAM_MIN_BYTES: { group: "quota", key: "streamMinBytes", schema: { type: "integer", minimum: 1, default: 1048576 }, description: "Exact mode: the least storage each stream is charged, so an account holds at most its storage quota over this many streams (300 at the defaults) however small their max_bytes." },
  MNQ_ACCOUNT_STREAMS: { group: "quota", key: "streams", schema: { type: "integer", minimum: -1, default: 1000 }, description: "Streams per account (-1 unlimited): an empty stream costs a server about 70 KiB of memory and 8 files, and nothing of the storage quota." },
  MNQ_ACCOUNT_CONSUMERS: { group: "quota", key: "consumers", schema: { type: "integer", minimum: -1, default: 10000 }, description: "Consumers per account over all its streams (-1 unlimited)." },
  MNQ_ACCOUNT_CONNECTIONS: { group: "quota", key: "connections", schema: { type: "integer", minimum: -1, default: 1000 }, description: "Connections per account at once (-1 unlimited); a project's API-key connections count apart, with the same limit." },
  MNQ_ACCOUNT_SUBSCRIPTIONS: { group: "quota", key: "subscriptions", schema: { type: "integer", minimum: -1, default: 10000 }, description: "Subscriptions per account over all its connections (-1 unlimited): each costs server memory." },
  MNQ_ACCOUNT_MAX_PAYLOAD: { group: "quota", key: "maxPayload", schema: { type: "integer", minimum: -1, default: 1048576 }, description: "Largest message payload per account in bytes (-1: server's)." },
  MNQ_MAX_ACCOUNTS_PER_PROJECT: { key: "maxAccountsPerProject", schema: { type: "integer", minimum: 1, maximum: 100000, default: 10 }, description: "NATS accounts a project may hold." },
  MNQ_API_IN_FLIGHT_PER_PROJECT: { key: "apiInFlightPerProject", schema: { type: "integer", minimum: 1, maximum: 10000, default: 64 }, description: "API requests of one project handled at once by an instance; more answer 429 at once, so one project's load cannot queue everyone's." },
  MNQ_MAX_REVOCATIONS: { key: "maxRevocations", schema: { type: "integer", minimum: 10, maximum: 10000, default: 5000 }, description: "Bound of an account's revocation list: its credentials plus the deleted ones still revoked in its JWT (until rotate-signing-key with retire_previous). Keeps every account JWT far below max_payload." },
  MNQ_CACHE_MIB: { key: "cacheMib", schema: { type: "integer", minimum: 8, maximum: 65536, default: 96 }, description: "Memory bound of the records an instance holds (accounts, credentials, API keys it was asked for), MiB: the least recently used go first, and are read again from KV when asked for. The rest of an instance needs about 100 MiB." },
  MNQ_SESSION_TTL: { key: "sessionTtlSeconds", schema: { type: "integer", minimum: 60, maximum: 86400, default: 3600 }, description: "Lifetime in seconds of user JWTs issued by the auth callout." },
  MNQ_QUOTA_CHECK_MS: { key: "quotaCheckMs", schema: { type: "integer", minimum: 100, maximum: 3600000, default: 10000 }, description: "Interval of the storage quota check." },
  MNQ_RECONCILE_MS: { key: "reconcileMs", schema: { type: "integer", minimum: 100, maximum: 3600000, default: 30000 }, description: "Interval of the reconcile of resolvers and records with KV (a dead create is undone after two)." },
  MNQ_REQUEST_TIMEOUT_MS: { key: "requestTimeoutMs", schema: { type: "integer", minimum: 100, maximum: 60000, default: 5000 }, description: "Timeout of the service's own requests to the server (resolver pushes, KV)." },
  MNQ_TLS_CERT: { key: "tlsCert", group: "tls", schema: { type: "string", minLength: 1 }, description: "PEM certificate of the server (with MNQ_TLS_KEY): the embedded server's client port (and WebSocket) then requires TLS." },
  MNQ_TLS_KEY: { key: "tlsKey", group: "tls", schema: { type: "string", minLength: 1 }, description: "PEM private key of MNQ_TLS_CERT (keep it 0600)." },
  MNQ_TLS_CA: { key: "tlsCa", group: "tls", schema: { type: "string", minLength: 1 }, description: "PEM CA bundle that verifies the server's certificate: mnq, the mnq commands and the contexts they write use it." },
  MNQ_TLS: { key: "tlsMode", group: "tls", schema: { type: "string", enum: ["self-signed"] }, description: "self-signed: a private CA and a server certificate made in <data dir>/tls on first start (key 0600) and reused." },
  MNQ_TLS_NAMES: { key: "tlsNames", group: "tls", schema: { type: "string", pattern: "^[A-Za-z0-9.:*-]+(,[A-Za-z0-9.:*-]+)*$" }, description: "More DNS names or IP addresses for the self-signed certificate, comma-separated (localhost and 127.0.0.1 are always in)." },
  MNQ_WS_PORT: { key: "wsPort", schema: { type: "integer", minimum: 1, maximum: 65535 }, description: "WebSocket port of the embedded server (127.0.0.1; TLS with the server certificate when one is set)." },
  MNQ_METRICS_PORT: { key: "metricsPort", schema: { type: "integer", minimum: 0, maximum: 65535 }, description: "Port of the HTTP listener serving /metrics (Prometheus), /healthz and /readyz (off when unset; 0 picks a free port)." },
  MNQ_METRICS_HOST: { key: "metricsHost", schema: { type: "string", minLength: 1, default: "127.0.0.1" }, description: "Address the metrics listener binds to." },
  MNQ_PROJECT: { key: "project", schema: { type: "string", pattern: "^[a-z0-9-]{1,64}$" }, description: "Project the mnq commands use when --project is not given." },
  MNQ_LOG_LEVEL: { key: "logLevel", schema: { type: "string", enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info" }, description: "Log level (pino); logs are JSON on stderr, secrets redacted." },
} as const satisfies Record<`MNQ_${string}`, SettingDeclaration>;

export interface SettingDeclaration {
  /** The field of `Config` (or of `Config[group]`) it sets. */
  key: string;
  group?: "quota" | "tls";
  schema: JSONSchema & object;
  description: string;
  /** Never shown, not even in an error about its own value. */
  secret?: boolean;
}

type Table = typeof settingTable;
export type SettingName = keyof Table;
type ValueOf<D> = D extends { schema: infer S extends JSONSchema }
  ? S extends { default: unknown }
    ? FromSchema<S>
    : FromSchema<S> | undefined
  : never;
type Fields<G> = {
  -readonly [N in SettingName as Table[N] extends { group: G } ? Table[N]["key"] : never]: ValueOf<Table[N]>;
};
type Ungrouped = {
  -readonly [N in SettingName as Table[N] extends { group: string } ? never : Table[N]["key"]]: ValueOf<Table[N]>;
};

/** The settings' values under their `Config` names, with the groups `quota` and `tls` nested. */
export type DeclaredConfig = Ungrouped & { quota: Readonly<Fields<"quota">>; tls: Readonly<Fields<"tls">> };

/** The environment's JSON Schema, made from the table (ajv checks it; `schemas/config.json` is its copy). */
export const configSchema = {
  $id: "urn:mnq:config",
  title: "mnq configuration (environment variables)",
  type: "object",
  properties: Object.fromEntries(
    Object.entries(settingTable).map(([name, d]) => [name, { ...d.schema, description: d.description }]),
  ),
} as const;
