import { QuotasExceededError } from "../contract/errors.ts";
import { accountGroup, type CredentialsRecord, type HeldAccount, type RecordView } from "../store/index.ts";

/** Within this many of the bound, a create counts exactly (creates racing elsewhere stay inside it). */
const NEAR_BOUND = 64;

/**
 * Every credential of an account may one day be deleted, and each delete adds its user key to the
 * account JWT's revocations, which must stay far below the servers' max_payload: so credentials
 * plus revocations stay within `max` (MNQ_MAX_REVOCATIONS), and every delete fits. A rotation with
 * `retire_previous` clears the revocations (the keys they were signed by are no longer trusted).
 */
export async function checkRevocationRoom(view: RecordView<CredentialsRecord>, account: HeldAccount, max: number): Promise<void> {
  const revoked = Object.keys(account.revocations).length;
  const group = accountGroup(account.project_id, account.id);
  // Far from the bound the view's count suffices; near it, the view first catches up with KV.
  if ((await view.count(group)) + revoked < max - NEAR_BOUND) return;
  await view.catchUp();
  const live = await view.count(group);
  if (live + revoked < max) return;
  throw new QuotasExceededError(
    [{ resource: "nats_credentials", quota: max, current: live + revoked }],
    `the account holds ${live} credentials and ${revoked} revoked ones, at most ${max} together (a deleted credential stays revoked); ` +
      "rotate-signing-key with retire_previous: true clears the revocations, and invalidates every credential made before it",
  );
}

