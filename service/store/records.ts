import type { Permissions } from "@nats-io/jwt";
import type { CredentialPermissions } from "../identity/index.ts";

/** Stored shapes; described for validation by schemas/records.json. Wire and stored fields are snake_case. */

/** One tenant NATS account. Key `<project>.<account id>` in `mnq-accounts`. */
export interface AccountRecord {
  id: string;
  name: string;
  project_id: string;
  created_at: string;
  updated_at: string;
  /** Account identity seed, sealed by the SeedVault (bound to the account id). */
  seed: string;
  /** Account signing seed, sealed; it signs every user JWT of the account. */
  signing_seed: string;
  /** Public half of the signing key. */
  signing_key: string;
  /** Earlier signing keys the account JWT still lists (credentials they signed keep working) until retired. */
  previous_signing_keys?: string[];
  /** The account existed before mnq managed it (`nats-accounts.import`). */
  imported?: boolean;
  /** The account JWT last issued, and its `iat` (seconds; strictly increasing). */
  jwt: string;
  jwt_iat: number;
  /** Revoked user keys → revocation time (seconds). */
  revocations: Record<string, number>;
  /**
   * `creating` until the JWT is on the resolvers and the create answers; `deleting` from the start
   * of a delete until its records are gone. Only `active` accounts are seen by the API and the callout.
   */
  state: "creating" | "active" | "deleting";
  /**
   * Absent for a tenant account. `api-clients`: the project's account for API-key connections,
   * which only imports the project's API subjects and events from MNQ (hidden from the API).
   */
  kind?: "api-clients";
  /** An api-clients account of one API key (made with it, torn down with it): that key. */
  access_key?: string;
  /** An api-clients account: false when it does not import the project's events (a key narrowed to accounts). */
  api_events?: boolean;
  /** What the account shares with the project's other accounts (docs/api.md "Sharing between accounts"). */
  exports?: AccountExport[];
  /** What it takes from them. */
  imports?: AccountImport[];
}

/** docs/api.md Export. */
export interface AccountExport {
  subject: string;
  type: "stream" | "service";
  response_type?: "singleton" | "stream" | "chunked";
  name?: string;
}

/** docs/api.md Import. */
export interface AccountImport {
  nats_account_id: string;
  subject: string;
  type: "stream" | "service";
  local_subject?: string;
  name?: string;
}

/** Metadata of one set of credentials (never the seed or the file). Key `<project>.<credentials id>`. */
export interface CredentialsRecord {
  id: string;
  name: string;
  project_id: string;
  nats_account_id: string;
  /** Public key of the credential's user. */
  user_key: string;
  checksum: string;
  /** The account signing key that signed the creds file (absent in records of earlier versions). */
  signing_key?: string;
  /** As given on create (absent: everything inside the account). */
  permissions?: CredentialPermissions;
  /** RFC 3339; absent: never. */
  expires_at?: string;
  created_at: string;
  updated_at: string;
}

/** The accounts of one project: the cap on accounts is enforced by revision-checked updates of this. */
export interface ProjectRecord {
  project_id: string;
  accounts: string[];
}

/** The `project_id` of an admin API key: every project, and the admin subjects. */
export const ADMIN_PROJECT = "*";

/** An API key. Key `<access key>.<project>` in `mnq-api-keys` (see Store.apiKeyKey). The secret is kept only as an HMAC (see SecretMac). */
export interface ApiKeyRecord {
  access_key: string;
  name: string;
  /** The project the key may call, or `*` for an admin key. */
  project_id: string;
  created_at: string;
  /** `hmac$<HMAC-SHA-256>` base64url (see SecretMac). */
  secret_hash: string;
  /** A project key's own api-clients account, made with it, where its connections land; absent on admin keys. */
  client_account?: string;
  /**
   * That account's signing seed, sealed as on its record (bound to the account id): the callout
   * signs the key's users with it without reading the account, so a key not held costs one read.
   * The account is the key's alone and its signing key never changes.
   */
  client_signing_seed?: string;
  /** What the key may do (absent: owner). */
  role?: ApiKeyRole;
  /** The only accounts the key sees and acts on (absent: every account of its project). */
  nats_account_ids?: string[];
}

/** docs/api.md "Scoped API keys". */
export type ApiKeyRole = "owner" | "issuer" | "reader";

/** Finds a credential by its user public key (auth callout). Key `<user key>` in `mnq-credential-keys`. */
export interface CredentialKeyRecord {
  project_id: string;
  nats_credentials_id: string;
  nats_account_id: string;
  /** The account signing key that signed the creds file: the callout refuses it once that key is retired. */
  signing_key?: string;
  /** The credential's permissions as its user JWTs carry them (absent: everything in the account). */
  permissions?: Permissions;
  /** When the credential expires, seconds since the epoch (absent: never). */
  expires?: number;
}

/** The last storage threshold an account was seen over (quota events). Key `<project>.<account>` in `mnq-quota`. */
/**
 * Which project owns a NATS account. Key `<account id>` in `mnq-account-owners`, made (create-only)
 * before the account's record and deleted after it: an account id has one owner platform-wide,
 * whatever two projects do at once.
 */
export interface AccountOwnerRecord {
  project_id: string;
  claimed_at: string;
}

export interface QuotaStateRecord {
  /** 0, 80 or 100 (% of the storage quota). */
  level: 0 | 80 | 100;
  updated_at: string;
}

/** An active account of the API: not being created or deleted, not a project's api-clients account. */
export function isTenantAccount(r: Pick<AccountRecord, "state" | "kind">): boolean {
  return r.state === "active" && !r.kind;
}
