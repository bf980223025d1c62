import { InvalidArgumentsError, NotFoundError } from "../contract/errors.ts";
import { isAccessKey } from "../contract/validation.ts";
import { newAccessKey, newSecretKey, type SecretMac } from "../identity/index.ts";
import type { Logger } from "../runtime/log.ts";
import { apiKeyUserName, closeAdmittedConnections, type RevokeDeps } from "../revocation/index.ts";
import { ADMIN_PROJECT, type ApiKeyRecord, type ApiKeyRole, BucketName, Store, type StoreViews } from "../store/index.ts";

/** What API keys need of the accounts (accounts/ provides it). */
export interface KeyAccounts {
  /** A key's own api-clients account, where its connections land (with the project's events, or not). */
  keyAccount(project: string, accessKey: string, events: boolean): Promise<{ id: string; signing_seed: string }>;
  /** Tears that account down once its key is gone. */
  removeKeyAccount(project: string, id: string): Promise<void>;
  /** The service's own account, where admin keys connect. */
  readonly mnqAccount: string;
  /** The ids of a project's tenant accounts. */
  ids(project: string): Promise<string[]>;
}

/** How far a key reaches (docs/api.md "Scoped API keys"). */
export interface KeyScope {
  role: ApiKeyRole;
  /** null: every account of the project. */
  nats_account_ids: string[] | null;
}

/** What an admin key, `admin.creds` and a key made before scopes may do. */
export const OWNER_SCOPE: KeyScope = Object.freeze({ role: "owner", nats_account_ids: null });

/** The scope a key's record gives it. */
export function keyScope(rec: Pick<ApiKeyRecord, "role" | "nats_account_ids">): KeyScope {
  return { role: rec.role ?? "owner", nats_account_ids: rec.nats_account_ids ?? null };
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
export function apiKeyRecord(
  project: string,
  name: string,
  secrets: SecretMac,
  opts: { accessKey?: string; clientAccount?: { id: string; signing_seed: string }; scope?: KeyScope } = {},
): { record: ApiKeyRecord; secret: string } {
  const secret = newSecretKey();
  const record: ApiKeyRecord = { access_key: opts.accessKey ?? newAccessKey(), name, project_id: project, created_at: new Date().toISOString(), secret_hash: secrets.digest(secret) };
  if (opts.clientAccount) {
    record.client_account = opts.clientAccount.id;
    record.client_signing_seed = opts.clientAccount.signing_seed;
  }
  if (opts.scope && opts.scope.role !== "owner") record.role = opts.scope.role;
  if (opts.scope?.nats_account_ids) record.nats_account_ids = opts.scope.nats_account_ids;
  return { record, secret };
}

const byCreation = (a: ApiKeyRecord, b: ApiKeyRecord) =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.access_key < b.access_key ? -1 : a.access_key > b.access_key ? 1 : 0;

/** The keys that call the API: a project's, or an operator's (admin, project `*`). */
export class ApiKeys {
  constructor(private readonly deps: ApiKeysDeps) {}

  /**
   * A new key; its secret is returned here only. A project key gets an account of its own before
   * anyone holds it (undone when the key cannot be stored). `scope` narrows a project key; an
   * admin key reaches everything.
   */
  async create(project: string, name: string, scope: KeyScope = OWNER_SCOPE): Promise<{ record: ApiKeyRecord; secret: string }> {
    if (project === ADMIN_PROJECT) {
      if (scope.role !== "owner") throw InvalidArgumentsError.one("role", "constraint", "an admin key (project_id \"*\") is always owner");
      if (scope.nats_account_ids) throw InvalidArgumentsError.one("nats_account_ids", "constraint", "an admin key (project_id \"*\") reaches every account");
      const made = apiKeyRecord(project, name, this.deps.secrets);
      await this.deps.store.apiKeys.create(Store.apiKeyKey(project, made.record.access_key), made.record);
      this.deps.log.info({ project, access_key: made.record.access_key }, "api key created");
      return made;
    }
    if (scope.nats_account_ids) {
      const known = new Set(await this.deps.accounts.ids(project));
      const i = scope.nats_account_ids.findIndex((id) => !known.has(id));
      if (i >= 0) throw InvalidArgumentsError.one(`nats_account_ids[${i}]`, "constraint", `is not an account of project ${project}`);
    }
    const accessKey = newAccessKey();
    const account = await this.deps.accounts.keyAccount(project, accessKey, scope.nats_account_ids === null);
    const made = apiKeyRecord(project, name, this.deps.secrets, { accessKey, clientAccount: account, scope });
    try {
      await this.deps.store.apiKeys.create(Store.apiKeyKey(project, accessKey), made.record);
    } catch (err) {
      // nobody holds the key: its account goes (or the reconcile takes it, if this fails too)
      await this.deps.accounts.removeKeyAccount(project, account.id).catch(() => undefined);
      throw err;
    }
    this.deps.log.info({ project, access_key: accessKey, role: scope.role, narrowed: scope.nats_account_ids !== null }, "api key created");
    return made;
  }

  /**
   * What the key `accessKey` may do in `project`, read from its record (the caller identity the
   * server wrote into the request names it); null when it is no key of that project (any more).
   */
  async scope(accessKey: string, project: string): Promise<KeyScope | null> {
    // the project is known: the exact key, held (kept current by the feed), else one direct get
    const rec = await this.deps.views.apiKeys.read(Store.apiKeyKey(project, accessKey));
    return rec ? keyScope(rec) : null;
  }

  /** A project's keys (every key without one: an operator's rare call, walked in KV), oldest first. */
  async list(project: string | undefined): Promise<readonly ApiKeyRecord[]> {
    const view = this.deps.views.apiKeys;
    await view.catchUp();
    // A project's keys are one group, held.
    if (project) return view.sorted(Store.apiKeyGroup(project), "created_at_asc", byCreation);
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
    // in the key's own account, or MNQ for an admin key
    const account = project === ADMIN_PROJECT ? this.deps.accounts.mnqAccount : rec.value.client_account;
    if (account) {
      await closeAdmittedConnections(this.deps.revoke, {
        account,
        owners: [accessKey],
        names: [apiKeyUserName(accessKey)],
        release: { bucket: BucketName.apiKeys, revision },
      });
      // its own account goes with it
      if (rec.value.client_account) await this.deps.accounts.removeKeyAccount(project, rec.value.client_account);
    }
    this.deps.log.info({ project, access_key: accessKey }, "api key deleted");
    return rec.value;
  }

  /** True when `accessKey` is an admin key of this KV and `secret` its secret. */
  async isAdmin(accessKey: string, secret: string): Promise<boolean> {
    if (!isAccessKey(accessKey)) return false;
    const rec = await this.deps.views.apiKeys.find(Store.apiKeyPattern(accessKey));
    return rec !== null && rec.value.project_id === ADMIN_PROJECT && this.deps.secrets.matches(secret, rec.value.secret_hash);
  }
}
