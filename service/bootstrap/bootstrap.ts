import { join } from "node:path";
import {
  accountJwt,
  createCurveSeed,
  formatCreds,
  type KeyRole,
  newMasterKey,
  NKeyPair,
  operatorJwt,
  parseCreds,
  peekClaims,
  userJwt,
  XKey,
} from "../identity/index.ts";
import { DataFile, dataFileExists, ensureDir, readDataFile, writeSecretFile } from "./files.ts";
import { ADMIN_PREFIX, API_PREFIX, EVENTS_PREFIX, projectApi, projectEvents } from "../contract/subjects.ts";

/** Subjects the admin user (admin.creds) may publish to. */
export const ADMIN_PUBLISH = [`${API_PREFIX}.>`, `${ADMIN_PREFIX}.>`, "$SRV.>"];
/** Subjects the admin user may subscribe to: its reply inboxes and the events. */
export const ADMIN_SUBSCRIBE = ["_INBOX.>", `${EVENTS_PREFIX}.>`];

/**
 * What MNQ offers other accounts: each project's `api-clients` account imports its own slice
 * (`mnq.api.v1.<project>.>`, `mnq.events.v1.<project>.>`). Only mnq issues account JWTs, so only
 * the imports it writes exist.
 */
export const MNQ_EXPORTS = [
  { name: "mnq-api", subject: projectApi("*"), type: "service", response_type: "Singleton" },
  { name: "mnq-events", subject: projectEvents("*"), type: "stream" },
] as const;

const UNLIMITED_LIMITS = { disk_storage: -1, mem_storage: -1, streams: -1, consumer: -1, payload: -1, conn: -1, subs: -1 };
const NO_JETSTREAM_LIMITS = { ...UNLIMITED_LIMITS, disk_storage: 0, mem_storage: 0 };

export interface BootstrapResult {
  dataDir: string;
  /** True when keys were made now; false when every key already existed. */
  created: boolean;
  operator: string;
  sysAccount: string;
  mnqAccount: string;
  /** Files written by this run (names under the data dir). */
  written: string[];
}

export interface BootstrapOptions {
  /** Seal callout requests to the service's xkey (default true). */
  calloutXkey?: boolean;
}

/**
 * Creates the operator, the SYS and MNQ accounts, the service's users and the server include
 * under `dataDir`. Never replaces an existing key: a second run only fills in missing files, or
 * rewrites the derived files when the MNQ account's claims changed (a newer mnq, another option).
 */
export function bootstrap(dataDir: string, opts: BootstrapOptions = {}): BootstrapResult {
  ensureDir(dataDir);
  const written: string[] = [];
  let created = false;
  let refresh = false;

  const seed = (file: DataFile, role: KeyRole): NKeyPair => {
    if (dataFileExists(dataDir, file)) return NKeyPair.fromSeed(readDataFile(dataDir, file), role);
    const kp = NKeyPair.create(role);
    writeSecretFile(join(dataDir, file), `${kp.seedString()}\n`);
    written.push(file);
    created = true;
    return kp;
  };
  const credsUser = (file: DataFile): NKeyPair => {
    if (dataFileExists(dataDir, file)) return NKeyPair.fromSeed(parseCreds(readDataFile(dataDir, file)).seed, "user");
    created = true;
    return NKeyPair.create("user");
  };

  const operator = seed(DataFile.operatorSeed, "operator");
  const operatorSigning = seed(DataFile.operatorSigningSeed, "operator");
  const sys = seed(DataFile.sysSeed, "account");
  // The operator requires signing keys, and then servers refuse users signed by an account's own key.
  const sysSigning = seed(DataFile.sysSigningSeed, "account");
  const mnq = seed(DataFile.mnqSeed, "account");
  const mnqSigning = seed(DataFile.mnqSigningSeed, "account");
  let xkeySeed: string;
  if (dataFileExists(dataDir, DataFile.xkeySeed)) {
    xkeySeed = readDataFile(dataDir, DataFile.xkeySeed);
  } else {
    xkeySeed = createCurveSeed();
    writeSecretFile(join(dataDir, DataFile.xkeySeed), `${xkeySeed}\n`);
    written.push(DataFile.xkeySeed);
    created = true;
  }
  if (!dataFileExists(dataDir, DataFile.masterKey)) {
    writeSecretFile(join(dataDir, DataFile.masterKey), `${newMasterKey()}\n`);
    written.push(DataFile.masterKey);
  }
  const sysUser = credsUser(DataFile.sysCreds);
  const serviceUser = credsUser(DataFile.serviceCreds);
  const adminUser = credsUser(DataFile.adminCreds);
  const sentinel = NKeyPair.create("user");

  // Derived files: rewritten when any key is new, else only filled in where missing.
  const derived = (file: DataFile, make: () => string) => {
    if (!created && !refresh && dataFileExists(dataDir, file)) return;
    writeSecretFile(join(dataDir, file), make());
    written.push(file);
  };
  const mnqPub = mnq.getPublicKey();
  const sysJwt = accountJwt(
    { name: "SYS", account: sys.getPublicKey(), signingKeys: [sysSigning.getPublicKey()], limits: NO_JETSTREAM_LIMITS },
    operatorSigning,
  );
  const mnqJwt = accountJwt(
    {
      name: "MNQ",
      account: mnqPub,
      signingKeys: [mnqSigning.getPublicKey()],
      limits: UNLIMITED_LIMITS,
      authorization: {
        auth_users: [serviceUser.getPublicKey(), adminUser.getPublicKey()],
        allowed_accounts: ["*"],
        ...(opts.calloutXkey === false ? {} : { xkey: XKey.fromSeed(xkeySeed).publicKey }),
      },
      exports: [...MNQ_EXPORTS],
    },
    operatorSigning,
  );
  if (dataFileExists(dataDir, DataFile.mnqJwt)) {
    const nats = (token: string) => JSON.stringify(peekClaims(token).nats);
    refresh = nats(readDataFile(dataDir, DataFile.mnqJwt)) !== nats(mnqJwt);
  }
  const opJwt = operatorJwt("mnq", operator, [operatorSigning.getPublicKey()], sys.getPublicKey());
  const sentinelJwt = userJwt(
    { name: "sentinel", user: sentinel.getPublicKey(), account: mnqPub, bearer: true, permissions: { pub: { deny: [">"] }, sub: { deny: [">"] } } },
    mnqSigning,
  );

  derived(DataFile.operatorJwt, () => `${opJwt}\n`);
  derived(DataFile.sysJwt, () => `${sysJwt}\n`);
  derived(DataFile.mnqJwt, () => `${mnqJwt}\n`);
  derived(DataFile.sentinelJwt, () => `${sentinelJwt}\n`);
  derived(DataFile.sysCreds, () =>
    formatCreds(userJwt({ name: "mnq-sys", user: sysUser.getPublicKey(), account: sys.getPublicKey() }, sysSigning), sysUser),
  );
  derived(DataFile.serviceCreds, () =>
    formatCreds(userJwt({ name: "mnq-service", user: serviceUser.getPublicKey(), account: mnqPub }, mnqSigning), serviceUser),
  );
  derived(DataFile.adminCreds, () =>
    formatCreds(
      userJwt(
        {
          name: "mnq-admin",
          user: adminUser.getPublicKey(),
          account: mnqPub,
          permissions: { pub: { allow: ADMIN_PUBLISH }, sub: { allow: ADMIN_SUBSCRIBE } },
        },
        mnqSigning,
      ),
      adminUser,
    ),
  );
  derived(DataFile.trustConf, () =>
    [
      "# Written by mnq bootstrap: the trust chain of this NATS deployment (operator mode).",
      `operator: ${readDataFile(dataDir, DataFile.operatorJwt)}`,
      `system_account: ${sys.getPublicKey()}`,
      "resolver_preload: {",
      `  ${sys.getPublicKey()}: ${readDataFile(dataDir, DataFile.sysJwt)}`,
      `  ${mnqPub}: ${readDataFile(dataDir, DataFile.mnqJwt)}`,
      "}",
      "# Clients that send no JWT are given this bearer user of MNQ, which triggers the auth callout.",
      `default_sentinel: ${readDataFile(dataDir, DataFile.sentinelJwt)}`,
      "",
    ].join("\n"),
  );
  derived(DataFile.embeddedConf, () => nodeConf(join(dataDir, DataFile.resolverDir), join(dataDir, DataFile.jetstreamDir)));
  // The cluster nodes include these: plaintext until a tls {} block is put there (by mnq cluster
  // from MNQ_TLS_*, or by hand for compose and systemd); never overwritten here.
  for (const [file, what] of [
    [DataFile.clientTlsConf, "client port"],
    [DataFile.routeTlsConf, "routes (inside cluster {})"],
  ] as const) {
    if (!dataFileExists(dataDir, file)) writeSecretFile(join(dataDir, file), `# TLS of the cluster nodes' ${what}: a tls {} block here turns it on (see the README).\n`);
  }

  return { dataDir, created, operator: operator.getPublicKey(), sysAccount: sys.getPublicKey(), mnqAccount: mnqPub, written };
}

/**
 * The per-node part of a server config: the trust include, a full resolver and JetStream,
 * each in the node's own directories. Written into `<data dir>/server/`, beside trust.conf.
 */
export function nodeConf(resolverDir: string, storeDir: string): string {
  return [
    "# Written by mnq: one node's trust include, resolver and JetStream store (lives beside trust.conf).",
    'include "./trust.conf"',
    "resolver {",
    "  type: full",
    `  dir: ${JSON.stringify(resolverDir)}`,
    "  allow_delete: true",
    "  # a deleted account's JWT file is removed, not renamed to *.jwt.deleted (churn would grow the directory)",
    "  hard_delete: true",
    '  interval: "2m"',
    '  timeout: "1.9s"',
    "}",
    "jetstream {",
    `  store_dir: ${JSON.stringify(storeDir)}`,
    "}",
    "",
  ].join("\n");
}
