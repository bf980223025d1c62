import { inBatches } from "../batches.ts";
import { isPublicKey, NKeyPair } from "../identity/index.ts";
import { ConflictError, InvalidArgumentsError, NotFoundError, QuotasExceededError, UnavailableError } from "../errors.ts";
import { FaultPoint, faultPoint } from "../faults.ts";
import { accountLimits, type AccountUsage, readAccountUsage } from "../quota/index.ts";
import { newAccountRecord, releasePlace, teardownAccount } from "../resolver/index.ts";
import { closeAdmittedConnections, credentialUserName } from "../revocation/index.ts";
import { accountGroup, type AccountRecord, projectGroup, Store } from "../store/index.ts";
import type { ApiContext } from "./context.ts";
import { generateName } from "./names.ts";
import { type ListOptions, ordering, pageOf } from "./paging.ts";

/** API.md NatsAccount. */
export interface NatsAccount {
  id: string;
  name: string;
  endpoint: string;
  project_id: string;
  region: string;
  created_at: string;
  updated_at: string;
  /** How many signing keys the account trusts (1, more after a rotation until retired). */
  signing_keys: number;
}

export function toNatsAccount(ctx: ApiContext, r: AccountRecord): NatsAccount {
  return {
    id: r.id,
    name: r.name,
    endpoint: ctx.cfg.endpoint,
    project_id: r.project_id,
    region: ctx.cfg.region,
    created_at: r.created_at,
    updated_at: r.updated_at,
    signing_keys: 1 + (r.previous_signing_keys?.length ?? 0),
  };
}

/** The active account record of a project, or NotFoundError (also for another project's account). */
export async function getAccountRecord(ctx: ApiContext, project: string, id: string): Promise<AccountRecord> {
  const key = Store.accountKey(project, id);
  let rec = (await ctx.store.accounts.get(key))?.value ?? null;
  // missing, or `creating` still: perhaps a follower's stale copy (a direct get); ask the view
  if (!rec || rec.state !== "active") rec = await ctx.views.accounts.fresh(key);
  if (!rec || rec.state !== "active" || rec.kind) throw new NotFoundError("nats_account", id);
  return rec;
}

export async function createAccount(ctx: ApiContext, project: string, req: { name?: string }): Promise<NatsAccount> {
  const record = await registerAccount(ctx, project, NKeyPair.create("account"), { name: req.name || generateName() });
  ctx.log.info({ project, account: record.id }, "nats account created");
  return toNatsAccount(ctx, record);
}

/**
 * `nats-accounts.import`: brings an existing account (its seed) under management. It gets a new
 * signing key, the quota's limits and a JWT from this operator; what the resolvers served for it
 * before is replaced.
 */
export async function importAccount(
  ctx: ApiContext,
  project: string,
  req: { name?: string; account_id: string; private_key: string },
): Promise<NatsAccount> {
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
  await ctx.views.accounts.sync();
  if (req.account_id === ctx.publisher.mnqAccount || ctx.views.accounts.count(req.account_id) > 0) {
    throw new ConflictError("this account is already managed by mnq");
  }
  const record = await registerAccount(ctx, project, account, { name: req.name || generateName(), imported: true });
  ctx.log.info({ project, account: record.id }, "nats account imported");
  return toNatsAccount(ctx, record);
}

/**
 * Reserves a place in the project (revision-checked, so concurrent creates on any instance cannot
 * pass the cap together), writes a `creating` record with a new signing key, pushes its JWT, and
 * marks it `active`. On failure nothing is left: no record, no reservation, no JWT; after a crash
 * the reconcile of any instance rolls the `creating` record (and a lone reservation) back.
 */
async function registerAccount(
  ctx: ApiContext,
  project: string,
  account: NKeyPair,
  fields: { name: string; imported?: boolean },
): Promise<AccountRecord> {
  const id = account.getPublicKey();
  const max = ctx.cfg.maxAccountsPerProject;
  let over = 0;
  let taken = false;
  await ctx.store.projects.modify(project, (cur) => {
    const accounts = cur?.value.accounts ?? [];
    // an import of an account this project already holds (or is importing right now)
    taken = accounts.includes(id);
    if (taken) return null;
    if (accounts.length >= max) {
      over = accounts.length;
      return null;
    }
    return { ...cur?.value, project_id: project, accounts: [...accounts, id] };
  });
  if (taken) throw new ConflictError("this account is already managed by mnq");
  if (over) throw new QuotasExceededError([{ resource: "nats_accounts", quota: max, current: over }]);

  faultPoint(FaultPoint.createReserved);
  const record = newAccountRecord(ctx, { account, signing: NKeyPair.create("account") }, { project_id: project, ...fields }, "creating");
  const key = Store.accountKey(project, id);
  let created = false;
  try {
    const revision = await ctx.store.accounts.create(key, record);
    created = true;
    faultPoint(FaultPoint.createRecorded);
    await ctx.publisher.publish({ key, value: record, revision });
    faultPoint(FaultPoint.createPushed);
    // Active only now: a crash before this leaves a `creating` record, which reconcile rolls back.
    const active = await ctx.store.accounts.modify(key, (cur) => (cur?.value.state === "creating" ? { ...cur.value, state: "active" } : null));
    if (active?.value.state !== "active") throw new UnavailableError("the account create was interrupted; retry");
    return active.value;
  } catch (err) {
    if (!created) {
      await releasePlace(ctx.store, project, id).catch(() => undefined);
      throw err;
    }
    // A failed write may still have landed (its reply was lost): learn what KV holds, so that the
    // answer is true. 503 means "not created, safe to retry", never "maybe".
    const settled = await settleInterruptedCreate(ctx, project, id);
    if (settled) return settled;
    throw err;
  }
}

const SETTLE_MS = 10_000;

/**
 * After a create failed past its `creating` record: the record if the create in fact completed
 * (`active`), else null once it is rolled back (JWT, records and place gone, as a delete does).
 * When KV stays unreachable the record is left to the reconcile, which rolls a `creating` record
 * back and completes a `deleting` one.
 */
async function settleInterruptedCreate(ctx: ApiContext, project: string, id: string): Promise<AccountRecord | null> {
  const key = Store.accountKey(project, id);
  const deadline = Date.now() + SETTLE_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const cur = await ctx.store.accounts.get(key);
      if (!cur) return null;
      if (cur.value.state === "active") return cur.value;
      // `creating` is rolled back; `deleting` (a rollback already begun) is carried on
      if (await teardownAccount(ctx.teardown, project, id, { rollback: true })) return null;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  ctx.log.warn({ project, account: id, err: String(last) }, "interrupted account create left to the reconcile");
  return null;
}

/**
 * `nats-accounts.rotate-signing-key`: a new signing key signs every credential from now on. The
 * earlier ones stay in the account JWT (their credentials keep working) unless `retire_previous`,
 * which drops them all: the servers then close the connections they signed and refuse their creds
 * files. The credentials they signed can never authenticate again, so they are deleted (their
 * nkeys are refused by the callout, their callout connections closed) and the revocations, which
 * only named users of retired keys, are cleared.
 */
export async function rotateSigningKey(
  ctx: ApiContext,
  project: string,
  req: { nats_account_id: string; retire_previous?: boolean },
): Promise<NatsAccount> {
  await getAccountRecord(ctx, project, req.nats_account_id);
  const signing = NKeyPair.create("account");
  const updated = await ctx.publisher.change(project, req.nats_account_id, (cur) => ({
    signing_key: signing.getPublicKey(),
    signing_seed: ctx.vault.seal(signing.seedString(), cur.id),
    previous_signing_keys: req.retire_previous ? [] : [cur.signing_key, ...(cur.previous_signing_keys ?? [])],
    revocations: req.retire_previous ? {} : cur.revocations,
    updated_at: new Date().toISOString(),
  }));
  if (req.retire_previous) await deleteRetiredCredentials(ctx, project, updated);
  ctx.log.info({ project, account: updated.id, signing_keys: 1 + (updated.previous_signing_keys?.length ?? 0) }, "account signing key rotated");
  return toNatsAccount(ctx, updated);
}

/** KV writes a rotation sends at once. */
const KV_BATCH = 64;

/** Deletes the account's credentials signed by keys it no longer trusts, and closes their callout connections. */
async function deleteRetiredCredentials(ctx: ApiContext, project: string, account: AccountRecord): Promise<void> {
  const trusted = new Set([account.signing_key, ...(account.previous_signing_keys ?? [])]);
  await ctx.views.credentials.sync();
  const retired = ctx.views.credentials
    .group(accountGroup(project, account.id))
    .filter((r) => r.signing_key === undefined || !trusted.has(r.signing_key));
  if (retired.length === 0) return;
  await inBatches(retired, KV_BATCH, (r) => ctx.store.credentialKeys.delete(r.user_key));
  await closeAdmittedConnections(ctx.revoke, {
    account: account.id,
    owners: retired.map((r) => r.user_key),
    names: retired.map((r) => credentialUserName(r.id)),
  });
  await inBatches(retired, KV_BATCH, (r) => ctx.store.credentials.delete(Store.credentialsKey(project, r.id)));
  ctx.log.info({ project, account: account.id, credentials: retired.length }, "credentials of retired signing keys deleted");
}

export async function listAccounts(
  ctx: ApiContext,
  project: string,
  req: ListOptions,
): Promise<{ total_count: number; nats_accounts: NatsAccount[] }> {
  await ctx.views.accounts.sync();
  const { order, compare } = ordering<AccountRecord>(req);
  const sorted = ctx.views.accounts.sorted(projectGroup(project), order, compare);
  // a project holds a few accounts (MNQ_MAX_ACCOUNTS_PER_PROJECT) and its api-clients one
  const page = pageOf(sorted, req, (r) => r.state === "active" && !r.kind);
  return { total_count: page.total_count, nats_accounts: page.items.map((r) => toNatsAccount(ctx, r)) };
}

export async function getAccount(ctx: ApiContext, project: string, req: { nats_account_id: string }): Promise<NatsAccount> {
  return toNatsAccount(ctx, await getAccountRecord(ctx, project, req.nats_account_id));
}

export async function updateAccount(
  ctx: ApiContext,
  project: string,
  req: { nats_account_id: string; name?: string },
): Promise<NatsAccount> {
  const current = await getAccountRecord(ctx, project, req.nats_account_id);
  if (!req.name) return toNatsAccount(ctx, current);
  const name = req.name;
  const updated = await ctx.publisher.change(project, req.nats_account_id, (cur) =>
    cur.name === name ? null : { name, updated_at: new Date().toISOString() },
  );
  return toNatsAccount(ctx, updated);
}

export async function deleteAccount(ctx: ApiContext, project: string, req: { nats_account_id: string }): Promise<Record<string, never>> {
  const rec = await ctx.store.accounts.get(Store.accountKey(project, req.nats_account_id));
  // A project's api-clients account is not a NATS account of the API.
  if (rec?.value.kind) throw new NotFoundError("nats_account", req.nats_account_id);
  const gone = !(await teardownAccount(ctx.teardown, project, req.nats_account_id));
  if (gone) throw new NotFoundError("nats_account", req.nats_account_id);
  ctx.log.info({ project, account: req.nats_account_id }, "nats account deleted");
  return {};
}

/** `nats-accounts.usage`: live from the servers, with the quota the account's JWT carries. */
export async function accountUsage(ctx: ApiContext, project: string, req: { nats_account_id: string }): Promise<AccountUsage> {
  const rec = await getAccountRecord(ctx, project, req.nats_account_id);
  return readAccountUsage(ctx.sys, rec.id, accountLimits(ctx.cfg.quota), ctx.cfg.requestTimeoutMs);
}
