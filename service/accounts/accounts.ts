import type { NatsConnection } from "@nats-io/nats-core";
import { ConflictError, InvalidArgumentsError, NotFoundError } from "../contract/errors.ts";
import { type AccountLimits, isPublicKey, NKeyPair, type SeedVault } from "../identity/index.ts";
import type { Logger } from "../runtime/log.ts";
import { type AccountUsage, readAccountUsage } from "../quota/index.ts";
import type { ResolverClient } from "../resolver/index.ts";
import type { RevokeDeps } from "../revocation/index.ts";
import { removeCredentials } from "../credentials/index.ts";
import { accountGroup, type AccountExport, type AccountImport, type AccountRecord, BucketName, type HeldAccount, isTenantAccount, type CredentialsRecord, projectGroup, Store, type StoreViews } from "../store/index.ts";
import { createKeyAccount } from "./client-accounts.ts";
import { registerAccount } from "./create.ts";
import { AccountPublisher } from "./publisher.ts";
import { checkExports, checkImported, checkImports, sameList, withoutImportsOf } from "./sharing.ts";
import type { BackgroundWork } from "../runtime/background.ts";
import { Reconciler, type ReconcileReport } from "./reconcile.ts";
import { teardownAccount, type TeardownDeps } from "./teardown.ts";

/** What the account lifecycle works with; assembled once, in main.ts. */
export interface AccountsDeps {
  store: Store;
  views: StoreViews;
  vault: SeedVault;
  /** The `$SYS` wire to the servers' resolvers. */
  resolver: ResolverClient;
  /** Closes connections the auth callout admitted (fence, CONNZ, KICK). */
  revoke: RevokeDeps;
  /** The system user's connection: usage is read from the servers' `$SYS` endpoints. */
  sys: NatsConnection;
  operatorSigner: NKeyPair;
  /** The limits every tenant account's JWT carries. */
  limits: AccountLimits;
  /** The MNQ and SYS accounts: of the operator, described by no record. */
  mnqAccount: string;
  sysAccount: string;
  /** Server URL(s) the service connects to; a teardown connects there as the account. */
  servers: string | string[];
  /** TLS options of the service's connections (the CA that verifies the servers). */
  clientTls?: { tls?: { caFile: string } };
  maxAccountsPerProject: number;
  requestTimeoutMs: number;
  reconcileMs: number;
  log: Logger;
  /** Where the reconcile's rounds are counted (metrics). */
  background?: BackgroundWork;
}



/**
 * The account lifecycle: `creating → active → deleting`, crash-safe create and import, rename,
 * signing-key rotation, teardown, the projects' api-clients accounts, and the reconcile that
 * finishes or undoes what a dead instance left half-done. KV holds the records; the resolvers
 * serve the JWTs issued from them.
 */
export class Accounts {
  readonly publisher: AccountPublisher;
  readonly #deps: AccountsDeps;
  /** One bag for every step of the lifecycle (teardown, create, reconcile take what they need of it). */
  readonly #inner: AccountsDeps & TeardownDeps & { publisher: AccountPublisher; systemAccounts: readonly string[] };
  readonly #reconciler: Reconciler;

  constructor(deps: AccountsDeps) {
    this.#deps = deps;
    this.publisher = new AccountPublisher(deps.store, deps.resolver, deps.operatorSigner, deps.limits, deps.mnqAccount);
    this.#inner = {
      ...deps,
      publisher: this.publisher,
      fenceAccount: (id, revision) => deps.revoke.fence.raise([id], { bucket: BucketName.accounts, revision }),
      systemAccounts: [deps.mnqAccount, deps.sysAccount],
    };
    this.#reconciler = new Reconciler(this.#inner, deps.log.child({ component: "reconcile" }), deps.reconcileMs);
  }

  get mnqAccount(): string {
    return this.#deps.mnqAccount;
  }

  /** The active tenant account of a project, or NotFoundError (also for another project's account). */
  async get(project: string, id: string): Promise<HeldAccount> {
    const key = Store.accountKey(project, id);
    let rec: HeldAccount | null = (await this.#deps.store.accounts.get(key))?.value ?? null;
    // missing, or `creating` still: perhaps a follower's stale copy (a direct get); ask the view
    if (!rec || rec.state !== "active") rec = await this.#deps.views.accounts.readLatest(key);
    if (!rec || !isTenantAccount(rec)) throw new NotFoundError("nats_account", id);
    return rec;
  }

  /**
   * A project's account records in `order` (a cached sorted copy of the view); `isTenantAccount`
   * tells the ones the API lists.
   */
  async list(project: string, order: string, compare: (a: HeldAccount, b: HeldAccount) => number): Promise<readonly HeldAccount[]> {
    await this.#deps.views.accounts.catchUp();
    // a project holds a few accounts (MNQ_MAX_ACCOUNTS_PER_PROJECT) and its api-clients one
    return await this.#deps.views.accounts.sorted(projectGroup(project), order, compare);
  }

  /** The ids of a project's tenant accounts, in any state (their credentials may be listed). */
  async ids(project: string): Promise<string[]> {
    return (await this.#deps.views.accounts.group(projectGroup(project))).filter((a) => !a.kind).map((a) => a.id); // creating and deleting ones hold their place too
  }

  /** A new account with a new identity. */
  async create(project: string, name: string): Promise<AccountRecord> {
    const record = await registerAccount(this.#inner, project, NKeyPair.create("account"), { name });
    this.#deps.log.info({ project, account: record.id }, "nats account created");
    return record;
  }

  /**
   * Brings an existing account (its seed) under management. It gets a new signing key, the quota's
   * limits and a JWT from this operator; what the resolvers served for it before is replaced.
   */
  async import(project: string, req: { name: string; account_id: string; private_key: string }): Promise<AccountRecord> {
    if (!isPublicKey(req.account_id, "account")) {
      throw InvalidArgumentsError.one("account_id", "format", "must be an account public nkey: 56 characters starting with A, with a valid checksum");
    }
    let account: NKeyPair;
    try {
      if (!req.private_key.startsWith("SA")) throw new Error("not an account seed");
      account = NKeyPair.fromSeed(req.private_key, "account");
    } catch {
      throw InvalidArgumentsError.one("private_key", "format", "must be an account nkey seed: starting with SA, with a valid checksum");
    }
    if (account.getPublicKey() !== req.account_id) {
      throw InvalidArgumentsError.one("private_key", "constraint", "is not the seed of account_id");
    }
    const { views } = this.#deps;
    if (req.account_id === this.#deps.mnqAccount || req.account_id === this.#deps.sysAccount || (await views.accounts.find(Store.accountPattern(req.account_id))) !== null) {
      throw new ConflictError("this account is already managed by mnq");
    }
    const record = await registerAccount(this.#inner, project, account, { name: req.name, imported: true });
    this.#deps.log.info({ project, account: record.id }, "nats account imported");
    return record;
  }

  /**
   * Changes an account's name, exports or imports (absent: unchanged) in one JWT, after the
   * sharing checks (see sharing.ts): imports only of what another account of the project exports,
   * and no export removed or narrowed while others import it. The record as it then stands, and
   * whether this call changed it.
   */
  async update(
    project: string,
    id: string,
    change: { name?: string; exports?: AccountExport[]; imports?: AccountImport[] },
  ): Promise<{ account: AccountRecord; changed: boolean }> {
    await this.get(project, id);
    if (change.exports) checkExports(change.exports);
    if (change.exports || change.imports) {
      const peers = await this.#peers(project, id);
      if (change.imports) checkImports(id, change.imports, peers);
      if (change.exports) checkImported(id, change.exports, peers);
    }
    let changed = false;
    const account = await this.publisher.change(project, id, (cur) => {
      const fields: Partial<AccountRecord> = {};
      if (change.name !== undefined && change.name !== cur.name) fields.name = change.name;
      if (change.exports && !sameList(change.exports, cur.exports)) fields.exports = change.exports;
      if (change.imports && !sameList(change.imports, cur.imports)) fields.imports = change.imports;
      // a write retried after a revision conflict asks again: the last answer is the one written
      changed = Object.keys(fields).length > 0;
      return changed ? { ...fields, updated_at: new Date().toISOString() } : null;
    });
    return { account, changed };
  }

  /** The project's other active tenant accounts, read from KV (not a copy): what an update's checks weigh. */
  async #peers(project: string, self: string): Promise<Map<string, AccountRecord>> {
    const ids = (await this.ids(project)).filter((a) => a !== self);
    const peers = new Map<string, AccountRecord>();
    for (const rec of await Promise.all(ids.map((a) => this.#deps.store.accounts.get(Store.accountKey(project, a))))) {
      if (rec && isTenantAccount(rec.value)) peers.set(rec.value.id, rec.value);
    }
    return peers;
  }

  /** Removes every import of `gone` from the project's other accounts (each JWT re-issued and pushed): the accounts changed. */
  async #dropImportsOf(project: string, gone: string): Promise<AccountRecord[]> {
    const changed: AccountRecord[] = [];
    for (const peer of (await this.#peers(project, gone)).values()) {
      if (!peer.imports?.some((i) => i.nats_account_id === gone)) continue;
      const updated = await this.publisher
        .change(project, peer.id, withoutImportsOf(new Set([gone])))
        .catch((err: unknown) => {
          if (err instanceof NotFoundError) return null; // deleted meanwhile
          throw err;
        });
      if (updated) changed.push(updated);
    }
    return changed;
  }

  /**
   * A new signing key signs every credential from now on. The earlier ones stay in the account JWT
   * (their credentials keep working) unless `retirePrevious`, which drops them all: the servers
   * then close the connections they signed and refuse their creds files. The credentials they
   * signed can never authenticate again, so they are deleted (their nkeys refused by the callout,
   * their callout connections closed) and the revocations, which only named users of retired keys,
   * are cleared.
   */
  async rotateSigningKey(project: string, id: string, retirePrevious: boolean): Promise<{ account: AccountRecord; retired: CredentialsRecord[] }> {
    await this.get(project, id);
    const signing = NKeyPair.create("account");
    const updated = await this.publisher.change(project, id, (cur) => ({
      signing_key: signing.getPublicKey(),
      signing_seed: this.#deps.vault.seal(signing.seedString(), cur.id),
      previous_signing_keys: retirePrevious ? [] : [cur.signing_key, ...(cur.previous_signing_keys ?? [])],
      revocations: retirePrevious ? {} : cur.revocations,
      updated_at: new Date().toISOString(),
    }));
    const retired = retirePrevious ? await this.#deleteRetiredCredentials(project, updated) : [];
    this.#deps.log.info({ project, account: updated.id, signing_keys: 1 + (updated.previous_signing_keys?.length ?? 0) }, "account signing key rotated");
    return { account: updated, retired };
  }

  /**
   * Deletes a tenant account completely (see teardown.ts), then every import of it from the
   * project's other accounts: the record it had, and the accounts whose imports changed.
   * NotFoundError when there is none.
   */
  async delete(project: string, id: string): Promise<{ deleted: AccountRecord; importers: AccountRecord[] }> {
    const rec = await this.#deps.store.accounts.get(Store.accountKey(project, id));
    // A project's api-clients account is not a NATS account of the API.
    if (!rec || rec.value.kind || !(await teardownAccount(this.#inner, project, id))) throw new NotFoundError("nats_account", id);
    this.#deps.log.info({ project, account: id }, "nats account deleted");
    return { deleted: rec.value, importers: await this.#dropImportsOf(project, id) };
  }

  /** Live usage from the servers, with the quota the account's JWT carries. */
  async usage(project: string, id: string): Promise<AccountUsage> {
    const rec = await this.get(project, id);
    return readAccountUsage(this.#deps.sys, rec.id, this.#deps.limits, this.#deps.requestTimeoutMs);
  }

  /** Revokes `userKey` (a creds file's user) in the account JWT, pushed to the resolvers: the servers close its connections. */
  revokeUser(project: string, id: string, userKey: string): Promise<AccountRecord> {
    return this.publisher.change(project, id, (cur) =>
      cur.revocations[userKey] === undefined ? { revocations: { ...cur.revocations, [userKey]: Math.floor(Date.now() / 1000) } } : null,
    );
  }

  /** An API key's own api-clients account (see createKeyAccount). */
  keyAccount(project: string, accessKey: string, events: boolean): Promise<AccountRecord> {
    return createKeyAccount(this.#inner, project, accessKey, events);
  }

  /**
   * Removes an API key's own account once the key is gone and its connections are closed: it holds
   * no data (its limits allow no streams) and no user but the key's, so marking it, taking its JWT
   * off the resolvers and deleting the record is all. Cut short, the reconcile finishes the
   * `deleting` record as any other.
   */
  async removeKeyAccount(project: string, id: string): Promise<void> {
    const key = Store.accountKey(project, id);
    const marked = await this.#deps.store.accounts.modify(key, (cur) =>
      cur?.value.kind === "api-clients" && cur.value.access_key !== undefined && cur.value.state !== "deleting"
        ? { ...cur.value, state: "deleting", updated_at: new Date().toISOString() }
        : null,
    );
    if (!marked) return;
    await this.#deps.resolver.delete([id]);
    await this.#deps.store.accounts.delete(key);
  }

  /** One reconcile round now (`startup`: every JWT pushed, every half-done delete finished). */
  reconcile(startup: boolean): Promise<ReconcileReport> {
    return this.#reconciler.round(startup);
  }

  /** Reconciles every `reconcileMs` until `stop()`. */
  start(): void {
    this.#reconciler.start();
  }

  stop(): Promise<void> {
    return this.#reconciler.stop();
  }

  /** Deletes the account's credentials signed by keys it no longer trusts, and closes their callout connections. */
  async #deleteRetiredCredentials(project: string, account: AccountRecord): Promise<CredentialsRecord[]> {
    const { views, store, revoke, log } = this.#deps;
    const trusted = new Set([account.signing_key, ...(account.previous_signing_keys ?? [])]);
    await views.credentials.catchUp();
    const retired = (await views.credentials.group(accountGroup(project, account.id))).filter((r) => r.signing_key === undefined || !trusted.has(r.signing_key));
    if (retired.length === 0) return [];
    await removeCredentials(store, project, account.id, retired, { revoke });
    log.info({ project, account: account.id, credentials: retired.length }, "credentials of retired signing keys deleted");
    return retired;
  }
}
