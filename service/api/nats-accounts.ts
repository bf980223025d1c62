import { NKeyPair } from "../identity/index.ts";
import { NotFoundError, QuotasExceededError } from "../errors.ts";
import { accountLimits, type AccountUsage, readAccountUsage } from "../quota/index.ts";
import { newAccountRecord, teardownAccount } from "../resolver/index.ts";
import { type AccountRecord, Store } from "../store/index.ts";
import type { ApiContext } from "./context.ts";
import { generateName } from "./names.ts";
import { type ListOptions, paginate } from "./paging.ts";

/** API.md NatsAccount. */
export interface NatsAccount {
  id: string;
  name: string;
  endpoint: string;
  project_id: string;
  region: string;
  created_at: string;
  updated_at: string;
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
  };
}

/** The active account record of a project, or NotFoundError (also for another project's account). */
export async function getAccountRecord(ctx: ApiContext, project: string, id: string): Promise<AccountRecord> {
  const rec = await ctx.store.accounts.get(Store.accountKey(project, id));
  if (!rec || rec.value.state !== "active" || rec.value.kind) throw new NotFoundError("nats_account", id);
  return rec.value;
}

export async function createAccount(ctx: ApiContext, project: string, req: { name?: string }): Promise<NatsAccount> {
  const account = NKeyPair.create("account");
  const signing = NKeyPair.create("account");
  const id = account.getPublicKey();
  const max = ctx.cfg.maxAccountsPerProject;

  // Reserve a place in the project first: a revision-checked update, so concurrent creates
  // (on any instance) cannot pass the cap together.
  let over = 0;
  await ctx.store.projects.modify(project, (cur) => {
    const accounts = cur?.value.accounts ?? [];
    if (accounts.length >= max) {
      over = accounts.length;
      return null;
    }
    return { ...cur?.value, project_id: project, accounts: [...accounts, id] };
  });
  if (over) throw new QuotasExceededError([{ resource: "nats_accounts", quota: max, current: over }]);

  const record = newAccountRecord(ctx, { account, signing }, { project_id: project, name: req.name || generateName() });
  const key = Store.accountKey(project, id);
  try {
    const revision = await ctx.store.accounts.create(key, record);
    await ctx.publisher.publish({ key, value: record, revision });
  } catch (err) {
    // Leave nothing half-made: no record, no reservation. A JWT that did reach a resolver
    // belongs to no record and grants nothing (no user can be signed for it without the record).
    await ctx.store.accounts.delete(key).catch(() => undefined);
    await releaseReservation(ctx, project, id).catch(() => undefined);
    throw err;
  }
  ctx.log.info({ project, account: id }, "nats account created");
  return toNatsAccount(ctx, record);
}

async function releaseReservation(ctx: ApiContext, project: string, id: string): Promise<void> {
  await ctx.store.projects.modify(project, (cur) =>
    cur && cur.value.accounts.includes(id) ? { ...cur.value, accounts: cur.value.accounts.filter((a) => a !== id) } : null,
  );
}

export async function listAccounts(
  ctx: ApiContext,
  project: string,
  req: ListOptions,
): Promise<{ total_count: number; nats_accounts: NatsAccount[] }> {
  await ctx.views.accounts.sync();
  const active = ctx.views.accounts.values(`${project}.`).filter((r) => r.state === "active" && !r.kind);
  const page = paginate(active, req);
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
