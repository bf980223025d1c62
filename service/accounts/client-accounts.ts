import { NKeyPair, type SeedVault } from "../identity/index.ts";
import { type AccountRecord, Store } from "../store/index.ts";
import { type AccountPublisher, newAccountRecord } from "./publisher.ts";

export interface ClientAccountDeps {
  store: Store;
  vault: SeedVault;
  publisher: AccountPublisher;
}

/**
 * An API key's own api-clients account, made and pushed before the key is stored: the key's
 * connections land there alone, so no other key of the project can subscribe to its replies on
 * `_INBOX.>`. `events`: it imports the project's events too (not for a key narrowed to accounts,
 * since an event subject does not name its account).
 */
export async function createKeyAccount(deps: ClientAccountDeps, project: string, accessKey: string, events: boolean): Promise<AccountRecord> {
  const keys = { account: NKeyPair.create("account"), signing: NKeyPair.create("account") };
  const record = newAccountRecord(deps, keys, { project_id: project, name: `api-key-${accessKey}`, kind: "api-clients", access_key: accessKey, ...(events ? {} : { api_events: false }) });
  const key = Store.accountKey(project, record.id);
  const revision = await deps.store.accounts.create(key, record);
  await deps.publisher.publish({ key, value: record, revision });
  return record;
}
