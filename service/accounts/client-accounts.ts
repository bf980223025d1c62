import { NKeyPair, type SeedVault } from "../identity/index.ts";
import { ConflictError } from "../contract/errors.ts";
import { type AccountRecord, Store } from "../store/index.ts";
import { type AccountPublisher, newAccountRecord } from "./publisher.ts";
import type { ResolverClient } from "../resolver/index.ts";

export interface ClientAccountDeps {
  store: Store;
  vault: SeedVault;
  resolver: ResolverClient;
  publisher: AccountPublisher;
}

/**
 * The project's `api-clients` account, created (and pushed) on first use. Connections made with a
 * project's API keys are placed there: its only way to MNQ are imports of `mnq.api.v1.<project>.>`
 * and `mnq.events.v1.<project>.>`, so replies (credentials, secrets) sent to its `_INBOX.>` are
 * invisible to every other project, whatever they subscribe to.
 */
export async function ensureClientAccount(deps: ClientAccountDeps, project: string): Promise<AccountRecord> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const known = (await deps.store.projects.get(project))?.value.client_account;
    if (known) {
      const rec = await deps.store.accounts.get(Store.accountKey(project, known));
      if (rec && rec.value.state === "active") return rec.value;
    }
    const record = newClientAccount(deps, project);
    const key = Store.accountKey(project, record.id);
    const revision = await deps.store.accounts.create(key, record);
    await deps.publisher.publish({ key, value: record, revision });
    // Claim the project's slot only if nobody else did meanwhile (a revision-checked write).
    const won = await deps.store.projects.modify(project, (cur) =>
      cur?.value.client_account === known ? { ...cur?.value, project_id: project, accounts: cur?.value.accounts ?? [], client_account: record.id } : null,
    );
    if (won?.value.client_account === record.id) return record;
    await deps.resolver.delete([record.id]).catch(() => undefined);
    await deps.store.accounts.delete(key).catch(() => undefined);
  }
  throw new ConflictError("the project's API client account is being created concurrently; retry");
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

function newClientAccount(deps: ClientAccountDeps, project: string): AccountRecord {
  const keys = { account: NKeyPair.create("account"), signing: NKeyPair.create("account") };
  return newAccountRecord(deps, keys, { project_id: project, name: "api-clients", kind: "api-clients" });
}
