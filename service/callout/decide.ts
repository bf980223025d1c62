import type { Permissions } from "@nats-io/jwt";
import { ADMIN_PUBLISH, ADMIN_SUBSCRIBE } from "../bootstrap/index.ts";
import { verifySignature } from "../identity/index.ts";
import { apiKeyUserName, credentialUserName } from "../revocation/index.ts";
import { type AccountRecord, ADMIN_PROJECT, type HeldAccount, isTenantAccount, type ApiKeyRecord, type CredentialKeyRecord } from "../store/index.ts";
import type { AuthorizationRequest } from "./request.ts";
import { projectApi, projectEvents } from "../contract/subjects.ts";

/** What a connecting client presented, read from its CONNECT options. */
export type Presented =
  | { kind: "api_key"; accessKey: string; secret: string }
  | { kind: "nkey"; nkey: string; sig: string; nonce: string }
  | { kind: "none" };

/** Reads the identity a client claims: user + password is an API key, nkey + sig a credential. */
export function presented(req: AuthorizationRequest): Presented {
  const o = req.nats.connect_opts;
  if (o.user && o.pass !== undefined) return { kind: "api_key", accessKey: o.user, secret: o.pass };
  if (o.nkey && o.sig) return { kind: "nkey", nkey: o.nkey, sig: o.sig, nonce: req.nats.client_info.nonce ?? "" };
  return { kind: "none" };
}

/** The identity failures are counted against (throttling), if any. */
export function identityOf(p: Presented): string | null {
  return p.kind === "api_key" ? p.accessKey : p.kind === "nkey" ? p.nkey : null;
}

/** True when `sig` (base64url or base64) is the nkey's signature of the server's nonce. */
export function nonceSignatureValid(p: Extract<Presented, { kind: "nkey" }>): boolean {
  if (!p.nonce || !p.nkey.startsWith("U")) return false;
  return verifySignature(p.nkey, Buffer.from(p.nonce), Buffer.from(p.sig, "base64url"));
}

export const DenyReason = {
  noIdentity: "no api key or nkey presented",
  unknownApiKey: "unknown api key",
  wrongSecret: "wrong secret key",
  badSignature: "nkey signature does not verify",
  unknownCredential: "unknown or deleted credentials",
  accountGone: "account deleted",
  retiredKey: "credentials signed by a retired signing key",
  expired: "credentials expired",
  noClientAccount: "the key's client account is missing",
} as const;
export type DenyReason = (typeof DenyReason)[keyof typeof DenyReason];

/** Everything `decide` needs, looked up by the responder beforehand. */
export interface Facts {
  request: AuthorizationRequest;
  presented: Presented;
  nowSec: number;
  sessionTtlSeconds: number;
  mnqAccount: string;
  /** API key: its record (null: unknown; it names the key's own account), whether the secret matched. */
  apiKey?: { record: ApiKeyRecord | null; secretValid: boolean };
  /**
   * True for an owner or account a delete has fenced off (the admission gate): asked when deciding,
   * so the responder must reply with no await after `decide`.
   */
  fenced?: (id: string) => boolean;
  /** nkey: whether the nonce signature verified, the credential's index entry and its account. */
  credential?: { signatureValid: boolean; index: CredentialKeyRecord | null; account: HeldAccount | null };
}

/** A user JWT to issue for the connection's `user_nkey`. */
export interface Grant {
  /** The account the connection goes to; its signing key signs the user (MNQ: the MNQ signing key). */
  account: Pick<AccountRecord, "id" | "signing_seed"> | "mnq";
  accountId: string;
  name: string;
  permissions?: Permissions;
  /** Expiry of the user JWT, seconds. */
  exp: number;
  /**
   * Whose connection it is: the credential's user key or the API key's access key. Deleting the
   * owner closes the connection (found by `name` in the servers' connection tables).
   */
  owner: string;
}

export type Decision = { kind: "allow"; grant: Grant } | { kind: "deny"; reason: DenyReason };

const deny = (reason: DenyReason): Decision => ({ kind: "deny", reason });

/**
 * The callout's policy, a pure function of the request and the records already looked up.
 * API keys go to MNQ (admin) or to their own client account, with only their API subjects;
 * a credential's nkey goes to the credential's account with the access of its creds file.
 */
export function decide(f: Facts): Decision {
  const d = fromRecords(f);
  if (d.kind === "deny" || !f.fenced) return d;
  // a delete under way (its fence, on any instance) wins over what the records said
  if (f.fenced(d.grant.accountId)) return deny(DenyReason.accountGone);
  if (f.fenced(d.grant.owner)) return deny(d.grant.owner.startsWith("U") ? DenyReason.unknownCredential : DenyReason.unknownApiKey);
  return d;
}

/** The decision the records make. */
function fromRecords(f: Facts): Decision {
  if (f.presented.kind === "none") return deny(DenyReason.noIdentity);
  const exp = f.nowSec + f.sessionTtlSeconds;

  if (f.presented.kind === "api_key") {
    const key = f.apiKey;
    if (!key?.record) return deny(DenyReason.unknownApiKey);
    if (!key.secretValid) return deny(DenyReason.wrongSecret);
    const { access_key: accessKey, project_id: project } = key.record;
    if (project === ADMIN_PROJECT) {
      return {
        kind: "allow",
        grant: {
          account: "mnq",
          accountId: f.mnqAccount,
          name: apiKeyUserName(accessKey),
          permissions: { pub: { allow: ADMIN_PUBLISH }, sub: { allow: ADMIN_SUBSCRIBE } },
          exp,
          owner: accessKey,
        },
      };
    }
    // the key's own account, and its signing seed (sealed): the record carries what signing needs
    const { client_account: clientId, client_signing_seed: clientSeed } = key.record;
    if (!clientId || !clientSeed) return deny(DenyReason.noClientAccount);
    // a key narrowed to accounts gets no events: an event subject does not name its account
    const narrowed = key.record.nats_account_ids !== undefined;
    return {
      kind: "allow",
      grant: {
        account: { id: clientId, signing_seed: clientSeed },
        accountId: clientId,
        name: apiKeyUserName(accessKey),
        permissions: {
          pub: { allow: [projectApi(project)] },
          sub: { allow: narrowed ? ["_INBOX.>"] : ["_INBOX.>", projectEvents(project)] },
        },
        exp,
        owner: accessKey,
      },
    };
  }

  const cred = f.credential;
  if (!cred?.signatureValid) return deny(DenyReason.badSignature);
  if (!cred.index) return deny(DenyReason.unknownCredential);
  const account = cred.account;
  if (!account || !isTenantAccount(account) || account.id !== cred.index.nats_account_id) {
    return deny(DenyReason.accountGone);
  }
  // Its creds file is refused by the servers once the key is retired: so is its nkey.
  const signer = cred.index.signing_key;
  if (signer !== undefined && signer !== account.signing_key && !account.previous_signing_keys?.includes(signer)) {
    return deny(DenyReason.retiredKey);
  }
  // The creds file's JWT expires then, and so does every session: never later.
  const expires = cred.index.expires;
  if (expires !== undefined && expires <= f.nowSec) return deny(DenyReason.expired);
  return {
    kind: "allow",
    grant: {
      account,
      accountId: account.id,
      name: credentialUserName(cred.index.nats_credentials_id),
      permissions: cred.index.permissions,
      exp: expires === undefined ? exp : Math.min(exp, expires),
      owner: f.presented.nkey,
    },
  };
}
