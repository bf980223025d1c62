import { NotFoundError } from "../contract/errors.ts";
import type { CredentialPermissions, SeedVault } from "../identity/index.ts";
import type { Logger } from "../runtime/log.ts";
import type { RevokeDeps } from "../revocation/index.ts";
import { accountGroup, type CredentialsRecord, type HeldAccount, Store, type StoreViews } from "../store/index.ts";
import { checkRevocationRoom } from "./bound.ts";
import { buildCredentials } from "./build.ts";
import { removeCredentials } from "./remove.ts";

/** What credentials need of the accounts they belong to (accounts/ provides it). */
export interface CredentialAccounts {
  /** The tenant account, or NotFoundError. */
  get(project: string, accountId: string): Promise<HeldAccount>;
  /** The ids of the project's accounts that may hold credentials. */
  ids(project: string): Promise<string[]>;
  /** Revokes a creds file's user key in the account JWT (the servers close its connections). */
  revokeUser(project: string, accountId: string, userKey: string): Promise<unknown>;
}

export interface CredentialsDeps {
  store: Store;
  views: Pick<StoreViews, "credentials">;
  vault: SeedVault;
  accounts: CredentialAccounts;
  revoke: RevokeDeps;
  /** Credentials plus revocations an account may hold (MNQ_MAX_REVOCATIONS). */
  maxRevocations: number;
  log: Logger;
}

/** What a create is asked for, checked by the caller. */
export interface NewCredentials {
  name: string;
  permissions?: CredentialPermissions;
  /** Expiry, seconds since the epoch. */
  exp?: number;
  now: Date;
}

/** The credentials of the accounts: made, read, listed and deleted here, within their bound. */
export class Credentials {
  constructor(private readonly deps: CredentialsDeps) {}

  /** New credentials in the account: the record and the creds file (given once, never stored). */
  async create(project: string, accountId: string, spec: NewCredentials): Promise<{ record: CredentialsRecord; file: string }> {
    const { store, vault, views, log } = this.deps;
    const account = await this.deps.accounts.get(project, accountId);
    await checkRevocationRoom(views.credentials, account, this.deps.maxRevocations);
    const made = buildCredentials(account, vault.signer(account.signing_seed, account.id, "account"), spec);
    // The index (user key → credential) first: the auth callout finds nkey connections through it,
    // and an index entry without a record only points at a file nobody was ever given.
    await store.credentialKeys.create(made.index_key, made.index);
    try {
      await store.credentials.create(made.key, made.record);
    } catch (err) {
      await store.credentialKeys.delete(made.index_key).catch(() => undefined);
      throw err;
    }
    log.info({ project, account: account.id, credentials: made.record.id }, "nats credentials created");
    return { record: made.record, file: made.file };
  }

  /** The credentials `id` of the project, or NotFoundError. */
  async get(project: string, id: string): Promise<CredentialsRecord> {
    // the id alone does not name the account part of the key: the one key matching it
    const found = await this.deps.views.credentials.find(Store.credentialsPattern(project, id));
    // none on the replica that answered: perhaps one that missed a write already answered (the leader's word)
    const rec = found?.value ?? (await this.deps.store.credentials.latest(Store.credentialsPattern(project, id)))?.value;
    if (!rec) throw new NotFoundError("nats_credentials", id);
    return rec;
  }

  /** An account's credentials (or, without one, the project's) in `order`. Do not modify the array. */
  async list(project: string, accountId: string | undefined, order: string, compare: (a: CredentialsRecord, b: CredentialsRecord) => number): Promise<readonly CredentialsRecord[]> {
    const view = this.deps.views.credentials;
    await view.catchUp();
    // An account's credentials are one group; a project's, its accounts' groups merged.
    const accounts = accountId ? [accountId] : await this.deps.accounts.ids(project);
    return view.sortedAcross(accounts.map((a) => accountGroup(project, a)), order, compare);
  }

  /**
   * Stops the auth callout admitting the credential's nkey (index entry first), revokes its user key
   * in the account JWT and pushes it (the servers close its creds-file connections), closes the
   * connections the callout admitted for it, then deletes the record (a retry resumes until then).
   */
  async delete(project: string, id: string): Promise<CredentialsRecord> {
    const rec = await this.get(project, id);
    const revokeFile = () =>
      this.deps.accounts.revokeUser(project, rec.nats_account_id, rec.user_key).catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) throw err; // an account going away admits nobody
      });
    await removeCredentials(this.deps.store, project, rec.nats_account_id, [rec], { revoke: this.deps.revoke, beside: revokeFile });
    this.deps.log.info({ project, account: rec.nats_account_id, credentials: rec.id }, "nats credentials deleted");
    return rec;
  }
}
