import { randomUUID } from "node:crypto";
import { type CredentialPermissions, credsChecksum, formatCreds, jwtPermissions, NKeyPair, userJwt } from "../identity/index.ts";
import { type CredentialKeyRecord, type HeldAccount, type CredentialsRecord, Store } from "../store/index.ts";

/** What one new set of credentials is made of: the records to store (and their keys) and the file, shown once. */
export interface BuiltCredentials {
  record: CredentialsRecord;
  /** Its key in `mnq-credentials`. */
  key: string;
  /** The index entry the auth callout finds nkey connections by, and its key (the user key). */
  index: CredentialKeyRecord;
  index_key: string;
  /** The creds file (JWT and seed): never stored. */
  file: string;
}

export interface CredentialsSpec {
  name: string;
  permissions?: CredentialPermissions;
  /** Expiry, seconds since the epoch (absent: never). */
  exp?: number;
  now?: Date;
}

/**
 * A new user in `account`, signed by its signing key (`signer`): without permissions everything
 * inside the account, without `exp` no expiry. The same go into every user JWT the callout issues
 * for the credential's nkey. Only metadata is stored.
 */
export function buildCredentials(account: HeldAccount, signer: NKeyPair, spec: CredentialsSpec): BuiltCredentials {
  const user = NKeyPair.create("user");
  const permissions = spec.permissions ? jwtPermissions(spec.permissions) : undefined;
  const file = formatCreds(userJwt({ name: spec.name, user: user.getPublicKey(), account: account.id, permissions, exp: spec.exp }, signer), user);
  const now = (spec.now ?? new Date()).toISOString();
  const project = account.project_id;
  const record: CredentialsRecord = {
    id: randomUUID(),
    name: spec.name,
    project_id: project,
    nats_account_id: account.id,
    user_key: user.getPublicKey(),
    checksum: credsChecksum(file),
    signing_key: account.signing_key,
    ...(spec.permissions ? { permissions: spec.permissions } : {}),
    ...(spec.exp !== undefined ? { expires_at: new Date(spec.exp * 1000).toISOString() } : {}),
    created_at: now,
    updated_at: now,
  };
  const index: CredentialKeyRecord = {
    project_id: project,
    nats_credentials_id: record.id,
    nats_account_id: account.id,
    signing_key: account.signing_key,
    ...(permissions ? { permissions } : {}),
    ...(spec.exp !== undefined ? { expires: spec.exp } : {}),
  };
  return { record, key: Store.credentialsKey(project, account.id, record.id), index, index_key: record.user_key, file };
}
