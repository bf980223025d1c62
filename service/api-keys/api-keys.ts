import { NotFoundError } from "../errors.ts";
import { newAccessKey, newSecretKey, type SecretMac } from "../identity/index.ts";
import type { Logger } from "../log.ts";
import { apiKeyUserName, closeAdmittedConnections, type RevokeDeps } from "../revocation/index.ts";
import { ADMIN_PROJECT, apiKeyProject, type ApiKeyRecord, BucketName, projectGroup, Store, type StoreViews } from "../store/index.ts";

/** What API keys need of the accounts (accounts/ provides it). */
export interface KeyAccounts {
  /** The project's api-clients account, where its keys' connections land: made on first use. */
  clientAccount(project: string): Promise<{ id: string }>;
  /** That account's id (MNQ's for admin keys), if there is one. */
  clientAccountId(project: string, admin: boolean): Promise<string | undefined>;
}

export interface ApiKeysDeps {
  store: Store;
  views: Pick<StoreViews, "apiKeys">;
  secrets: SecretMac;
  accounts: KeyAccounts;
  revoke: RevokeDeps;
  log: Logger;
}

/** A new API key of `project` (`*`: admin): the record to store, and its secret (never stored). */
export function apiKeyRecord(project: string, name: string, secrets: SecretMac, clientAccount?: string): { record: ApiKeyRecord; secret: string } {
  const secret = newSecretKey();
  const record: ApiKeyRecord = { access_key: newAccessKey(), name, project_id: project, created_at: new Date().toISOString(), secret_hash: secrets.digest(secret) };
  if (clientAccount) record.client_account = clientAccount;
  return { record, secret };
}

const byCreation = (a: ApiKeyRecord, b: ApiKeyRecord) =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.access_key < b.access_key ? -1 : a.access_key > b.access_key ? 1 : 0;

/** The keys that call the API: a project's, or an operator's (admin, project `*`). */
export class ApiKeys {
  constructor(private readonly deps: ApiKeysDeps) {}

  /** A new key; its secret is returned here only. A project's api-clients account exists before anyone holds the key. */
  async create(project: string, name: string): Promise<{ record: ApiKeyRecord; secret: string }> {
    const client = project === ADMIN_PROJECT ? undefined : (await this.deps.accounts.clientAccount(project)).id;
    const made = apiKeyRecord(project, name, this.deps.secrets, client);
    await this.deps.store.apiKeys.create(Store.apiKeyKey(project, made.record.access_key), made.record);
    this.deps.log.info({ project, access_key: made.record.access_key }, "api key created");
    return made;
  }

  /** A project's keys (every key without one: an operator's rare call, walked in KV), oldest first. */
  async list(project: string | undefined): Promise<readonly ApiKeyRecord[]> {
    const view = this.deps.views.apiKeys;
    await view.sync();
    // A project's keys are one group, held.
    if (project) return view.sorted(projectGroup(apiKeyProject(project)), "created_at_asc", byCreation);
    const all: ApiKeyRecord[] = [];
    for await (const { value } of view.scan()) all.push(value);
    return all.sort(byCreation);
  }

  /** The key stops authenticating at once, and the connections made with it are closed. */
  async delete(accessKey: string): Promise<ApiKeyRecord> {
    const rec = await this.deps.views.apiKeys.find(Store.apiKeyPattern(accessKey));
    if (!rec) throw new NotFoundError("api_key", accessKey);
    const revision = await this.deps.store.apiKeys.delete(rec.key);
    const project = rec.value.project_id;
    // in the account its record names, else the project's api-clients account, or MNQ for an admin key
    const account = rec.value.client_account ?? (await this.deps.accounts.clientAccountId(project, project === ADMIN_PROJECT));
    if (account) {
      await closeAdmittedConnections(this.deps.revoke, {
        account,
        owners: [accessKey],
        names: [apiKeyUserName(accessKey)],
        release: { bucket: BucketName.apiKeys, revision },
      });
    }
    this.deps.log.info({ project, access_key: accessKey }, "api key deleted");
    return rec.value;
  }

  /** True when `accessKey` is an admin key of this KV and `secret` its secret. */
  async isAdmin(accessKey: string, secret: string): Promise<boolean> {
    const rec = await this.deps.views.apiKeys.find(Store.apiKeyPattern(accessKey));
    return rec !== null && rec.value.project_id === ADMIN_PROJECT && (await this.deps.secrets.verify(secret, rec.value.secret_hash));
  }
}
