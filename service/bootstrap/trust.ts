import { formatCreds, NKeyPair, parseCreds, parseMasterKey, peekClaims, RESPONDER_PUBLISH, userJwt, XKey } from "../identity/index.ts";
import { DataFile, readDataFile } from "./files.ts";

/** The keys and credentials the running service needs, read from the data dir once at start. */
export interface Trust {
  /** Operator signing key: signs tenant account JWTs. */
  operatorSigner: NKeyPair;
  /** The service's account (MNQ): public key and signing key (callout responses, API users). */
  mnqAccount: string;
  mnqSigner: NKeyPair;
  /** The system account (SYS): public key. */
  sysAccount: string;
  /** Curve key the server seals callout requests to, when `calloutSealed`. */
  xkey: XKey;
  /** True when the MNQ account names the xkey: callout requests must then arrive sealed. */
  calloutSealed: boolean;
  /** Creds file contents of the service user (MNQ) and the system user (SYS). Secrets. */
  serviceCreds: string;
  /** The service user again, with a JWT that may publish only to reply inboxes (see RESPONDER_PUBLISH). Secret. */
  responderCreds: string;
  sysCreds: string;
  /** 32-byte key encrypting tenant seeds. */
  masterKey: Buffer;
}

/** Reads the bootstrap output; `masterKey` from the environment wins over the key file. */
export function loadTrust(dataDir: string, masterKey?: string): Trust {
  const serviceCreds = readDataFile(dataDir, DataFile.serviceCreds, true);
  const mnqSigner = NKeyPair.fromSeed(readDataFile(dataDir, DataFile.mnqSigningSeed), "account");
  const mnqAccount = NKeyPair.fromSeed(readDataFile(dataDir, DataFile.mnqSeed), "account").getPublicKey();
  const mnqClaims = peekClaims<{ authorization?: { xkey?: string } }>(readDataFile(dataDir, DataFile.mnqJwt));
  return {
    operatorSigner: NKeyPair.fromSeed(readDataFile(dataDir, DataFile.operatorSigningSeed), "operator"),
    mnqAccount,
    mnqSigner,
    sysAccount: NKeyPair.fromSeed(readDataFile(dataDir, DataFile.sysSeed), "account").getPublicKey(),
    xkey: XKey.fromSeed(readDataFile(dataDir, DataFile.xkeySeed)),
    calloutSealed: Boolean(mnqClaims.nats.authorization?.xkey),
    serviceCreds,
    responderCreds: responderCreds(serviceCreds, mnqAccount, mnqSigner),
    sysCreds: readDataFile(dataDir, DataFile.sysCreds, true),
    masterKey: parseMasterKey(masterKey ?? readDataFile(dataDir, DataFile.masterKey)),
  };
}

/**
 * The service user's key with a JWT of its own, signed by the MNQ signing key at start: the same
 * user (MNQ's auth_users names the key, so the callout is skipped), publishing only to inboxes.
 */
function responderCreds(serviceCreds: string, mnqAccount: string, mnqSigner: NKeyPair): string {
  const user = NKeyPair.fromSeed(parseCreds(serviceCreds).seed, "user");
  const jwt = userJwt({ name: "mnq-responder", user: user.getPublicKey(), account: mnqAccount, permissions: { pub: { allow: RESPONDER_PUBLISH } } }, mnqSigner);
  return formatCreds(jwt, user);
}
