import { InvalidArgumentsError } from "../contract/errors.ts";
import type { AccountUsage } from "../quota/index.ts";
import { type AccountExport, type AccountImport, type AccountRecord, type HeldAccount, isTenantAccount } from "../store/index.ts";
import type { ApiContext } from "./context.ts";
import { credentialsDeleted } from "./nats-credentials.ts";
import { generateName } from "./generated-names.ts";
import { type ListOptions, ordering, pageOf } from "./paging.ts";
import { covers, requireAccount, scopeOf } from "./scope.ts";

/** docs/api.md NatsAccount. */
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
  /** What it shares with the project's other accounts, and takes from them. */
  exports: AccountExport[];
  imports: AccountImport[];
}

export function toNatsAccount(ctx: ApiContext, r: HeldAccount): NatsAccount {
  return {
    id: r.id,
    name: r.name,
    endpoint: ctx.cfg.endpoint,
    project_id: r.project_id,
    region: ctx.cfg.region,
    created_at: r.created_at,
    updated_at: r.updated_at,
    signing_keys: 1 + (r.previous_signing_keys?.length ?? 0),
    exports: r.exports ?? [],
    imports: r.imports ?? [],
  };
}

function created(ctx: ApiContext, project: string, r: AccountRecord): NatsAccount {
  ctx.events.publish(project, { type: "nats-accounts.created", nats_account_id: r.id, name: r.name }, ctx.actor);
  return toNatsAccount(ctx, r);
}

export async function createAccount(ctx: ApiContext, project: string, req: { name?: string }): Promise<NatsAccount> {
  return created(ctx, project, await ctx.accounts.create(project, req.name || generateName()));
}

/** `nats-accounts.import`: an existing account (its seed) under management (see Accounts.import). */
export async function importAccount(
  ctx: ApiContext,
  project: string,
  req: { name?: string; account_id: string; private_key: string },
): Promise<NatsAccount> {
  return created(ctx, project, await ctx.accounts.import(project, { ...req, name: req.name || generateName() }));
}

/** `nats-accounts.rotate-signing-key` (see Accounts.rotateSigningKey). */
export async function rotateSigningKey(
  ctx: ApiContext,
  project: string,
  req: { nats_account_id: string; retire_previous?: boolean },
): Promise<NatsAccount> {
  requireAccount(scopeOf(ctx), req.nats_account_id);
  const { account, retired } = await ctx.accounts.rotateSigningKey(project, req.nats_account_id, req.retire_previous ?? false);
  for (const c of retired) credentialsDeleted(ctx, project, c);
  return toNatsAccount(ctx, account);
}

export async function listAccounts(
  ctx: ApiContext,
  project: string,
  req: ListOptions,
): Promise<{ total_count: number; nats_accounts: NatsAccount[] }> {
  const { order, compare } = ordering<HeldAccount>(req);
  const scope = scopeOf(ctx);
  const page = pageOf(await ctx.accounts.list(project, order, compare), req, (r) => isTenantAccount(r) && covers(scope, r.id));
  return { total_count: page.total_count, nats_accounts: page.items.map((r) => toNatsAccount(ctx, r)) };
}

export async function getAccount(ctx: ApiContext, project: string, req: { nats_account_id: string }): Promise<NatsAccount> {
  requireAccount(scopeOf(ctx), req.nats_account_id);
  return toNatsAccount(ctx, await ctx.accounts.get(project, req.nats_account_id));
}

/** `nats-accounts.update`: name, exports, imports (see Accounts.update); `nats-accounts.updated` when something changed. */
export async function updateAccount(
  ctx: ApiContext,
  project: string,
  req: { nats_account_id: string; name?: string; exports?: AccountExport[]; imports?: AccountImport[] },
): Promise<NatsAccount> {
  const scope = scopeOf(ctx);
  requireAccount(scope, req.nats_account_id);
  // an account the key does not reach is, to it, no account of the project: the same 400
  req.imports?.forEach((imp, i) => {
    if (!covers(scope, imp.nats_account_id)) throw InvalidArgumentsError.one(`imports[${i}].nats_account_id`, "constraint", "is not an account of this project");
  });
  const { account, changed } = await ctx.accounts.update(project, req.nats_account_id, { name: req.name || undefined, exports: req.exports, imports: req.imports });
  if (changed) updated(ctx, project, account);
  return toNatsAccount(ctx, account);
}

function updated(ctx: ApiContext, project: string, r: AccountRecord): void {
  ctx.events.publish(project, { type: "nats-accounts.updated", nats_account_id: r.id, name: r.name }, ctx.actor);
}

export async function deleteAccount(ctx: ApiContext, project: string, req: { nats_account_id: string }): Promise<Record<string, never>> {
  requireAccount(scopeOf(ctx), req.nats_account_id);
  const { deleted, importers } = await ctx.accounts.delete(project, req.nats_account_id);
  ctx.events.publish(project, { type: "nats-accounts.deleted", nats_account_id: deleted.id, name: deleted.name }, ctx.actor);
  for (const r of importers) updated(ctx, project, r);
  return {};
}

/** `nats-accounts.usage`: live from the servers, with the quota the account's JWT carries. */
export async function accountUsage(ctx: ApiContext, project: string, req: { nats_account_id: string }): Promise<AccountUsage> {
  requireAccount(scopeOf(ctx), req.nats_account_id);
  return ctx.accounts.usage(project, req.nats_account_id);
}
