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
  /** The account JWT last issued, and its `iat` (seconds; strictly increasing). */
  jwt: string;
  jwt_iat: number;
  /** Revoked user keys → revocation time (seconds). */
  revocations: Record<string, number>;
  /** `deleting` from the start of a delete until its records are gone. */
  state: "active" | "deleting";
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
  created_at: string;
  updated_at: string;
}

/** The accounts of one project: the cap on accounts is enforced by revision-checked updates of this. */
export interface ProjectRecord {
  project_id: string;
  accounts: string[];
}
