import { inBatches } from "../runtime/batches.ts";
import { closeAdmittedConnections, credentialUserName, type RevokeDeps } from "../revocation/index.ts";
import { BucketName, type CredentialsRecord, Store } from "../store/index.ts";

/** KV writes in flight at once while removing many credentials. */
const KV_BATCH = 64;

export interface RemoveOptions {
  /**
   * Close the connections the auth callout admitted for them (fenced on every instance first).
   * Absent when the account itself is going away: its teardown revokes every user at once.
   */
  revoke?: RevokeDeps;
  /** Runs beside the closing (a delete's revocation of the creds file in the account JWT). */
  beside?: () => Promise<unknown>;
}

/**
 * The one way credentials go: their index entries first (the auth callout stops admitting their
 * nkeys), then the connections the callout admitted for them closed, then their records. A failure
 * leaves the records, so a retry finds them and resumes. Used by a delete, a rotation that retires
 * signing keys, and an account's teardown.
 */
export async function removeCredentials(store: Store, project: string, accountId: string, records: readonly CredentialsRecord[], opts: RemoveOptions = {}): Promise<void> {
  if (records.length === 0) return;
  let revision = 0;
  await inBatches(records, KV_BATCH, async (r) => {
    revision = Math.max(revision, await store.credentialKeys.delete(r.user_key));
  });
  const closing = opts.revoke
    ? closeAdmittedConnections(opts.revoke, {
        account: accountId,
        owners: records.map((r) => r.user_key),
        names: records.map((r) => credentialUserName(r.id)),
        release: { bucket: BucketName.credentialKeys, revision },
      })
    : undefined;
  await Promise.all([closing, opts.beside?.()]);
  await inBatches(records, KV_BATCH, (r) => store.credentials.delete(Store.credentialsKey(project, accountId, r.id)));
}
