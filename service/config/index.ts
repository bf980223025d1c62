import { resolve } from "node:path";
import type { ValidateFunction } from "ajv";
import precompiled from "./settings-validator.ts";
import { type DeclaredConfig, type SettingDeclaration, type SettingName, settingTable } from "./settings.ts";

export { configSchema } from "./settings.ts";

/**
 * mnq's configuration, read once from `MNQ_*` environment variables by `loadConfig`.
 * Each field is declared once, in `settings.ts`; only the derived ones are written here.
 */
export type Config = Omit<DeclaredConfig, "endpoint"> & {
  /** URL clients connect to, shown on accounts: `MNQ_ENDPOINT`, else the server URL. */
  endpoint: string;
  /** `natsUrl`, one URL each (a cluster's nodes); undefined means the embedded server. */
  natsServers: string[] | undefined;
};
export type QuotaConfig = Config["quota"];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;
const declarations: ReadonlyArray<[SettingName, SettingDeclaration]> = Object.entries(settingTable) as [SettingName, SettingDeclaration][];

// Environment values are strings: the validator coerces them to the schema's types, and fills in
// defaults. It is compiled ahead (npm run schemas), so no command pays for ajv at start.
const validateSettings = precompiled as ValidateFunction<Record<SettingName, unknown>>;

/** The configuration settings with their defaults and descriptions, for help text and docs. */
export const settings: ReadonlyArray<{ name: SettingName; default: unknown; description: string }> = declarations.map(([name, d]) => ({
  name,
  default: (d.schema as { default?: unknown }).default,
  description: d.description,
}));

/**
 * Reads and checks every `MNQ_*` variable; throws ConfigError naming each bad one.
 * An unknown `MNQ_*` name is refused too (it is almost always a typo), and so are settings that
 * contradict each other.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Readonly<Config> {
  const raw: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("MNQ_") || value === undefined || value === "") continue;
    if (name in settingTable) raw[name] = value;
    else if (!name.startsWith("MNQ_TEST_")) unknown.push(name);
  }
  if (unknown.length > 0) throw new ConfigError(`unknown setting ${unknown.join(", ")} (see mnq --help for the list)`);
  if (!validateSettings(raw)) {
    const problems = (validateSettings.errors ?? []).map((e) => {
      const name = e.instancePath.replace(/^\//, "") as SettingName;
      const shown = (settingTable[name] as SettingDeclaration | undefined)?.secret ? "(hidden)" : JSON.stringify(env[name]);
      // in words: the allowed values, not "must be equal to one of the allowed values"; no regex
      const said =
        e.keyword === "enum"
          ? `must be ${((e.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(" or ")}`
          : e.keyword === "pattern"
            ? `is not in the expected form (${(settingTable[name] as SettingDeclaration | undefined)?.description ?? "see mnq --help"})`
            : e.message;
      return `${name} ${said} (got ${shown})`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const declared: Record<string, unknown> & { quota: Record<string, unknown>; tls: Record<string, unknown> } = { quota: {}, tls: {} };
  for (const [name, d] of declarations) (d.group ? declared[d.group] as Record<string, unknown> : declared)[d.key] = raw[name];
  const cfg = declared as unknown as DeclaredConfig;
  crossCheck(cfg);
  return Object.freeze({
    ...cfg,
    quota: Object.freeze(cfg.quota),
    tls: Object.freeze(cfg.tls),
    dataDir: resolve(cwd, cfg.dataDir),
    natsServers: cfg.natsUrl?.split(",").filter((u) => u !== ""),
    endpoint: cfg.endpoint ?? cfg.natsUrl ?? `${serverTls(cfg) ? "tls" : "nats"}://127.0.0.1:${cfg.natsPort}`,
  });
}

/** True when the embedded server's client port requires TLS (a certificate given or generated). */
export function serverTls(cfg: Pick<DeclaredConfig, "tls">): boolean {
  return cfg.tls.tlsCert !== undefined || cfg.tls.tlsMode === "self-signed";
}

/** Settings that are each valid but cannot hold together. */
function crossCheck(cfg: DeclaredConfig): void {
  const { tlsCert, tlsKey, tlsMode, tlsNames } = cfg.tls;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(`${tlsCert === undefined ? "MNQ_TLS_KEY" : "MNQ_TLS_CERT"} is set without ${tlsCert === undefined ? "MNQ_TLS_CERT" : "MNQ_TLS_KEY"}: give the certificate and its key together`);
  }
  if (tlsMode === "self-signed" && tlsCert !== undefined) {
    throw new ConfigError("MNQ_TLS=self-signed and MNQ_TLS_CERT both name a certificate: choose one");
  }
  if (tlsNames !== undefined && tlsMode !== "self-signed") throw new ConfigError("MNQ_TLS_NAMES is for MNQ_TLS=self-signed");
  // A certificate for `*` or `*.com` would vouch for names nobody here owns.
  const wildcard = tlsNames?.split(",").find((n) => n.includes("*") && !/^\*\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(n));
  if (wildcard !== undefined) {
    throw new ConfigError(`MNQ_TLS_NAMES: '${wildcard}' is too wide: '*' may only stand for the first label of a name with at least two more (*.mnq.example.com)`);
  }
  if (!cfg.natsUrl && cfg.kvReplicas > 1) {
    throw new ConfigError(
      `MNQ_KV_REPLICAS=${cfg.kvReplicas} needs a cluster: the embedded nats-server is one node (set MNQ_NATS_URL to the cluster's nodes, or MNQ_KV_REPLICAS=1)`,
    );
  }
}
