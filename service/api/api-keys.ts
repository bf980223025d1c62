import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DataFile, writeSecretFile } from "../bootstrap/index.ts";
import { keyScope, type KeyScope } from "../api-keys/index.ts";
import { ADMIN_PROJECT, type ApiKeyRecord, type ApiKeyRole } from "../store/index.ts";
import type { ApiContext } from "./context.ts";
import { generateName } from "./generated-names.ts";
import { pageOf } from "./paging.ts";

/** docs/api.md ApiKey; `secret_key` only in the reply to create. */
export interface ApiKey {
  access_key: string;
  name: string;
  project_id: string;
  created_at: string;
  role: ApiKeyRole;
  nats_account_ids: string[] | null;
  secret_key?: string;
}

function toApiKey(r: ApiKeyRecord): ApiKey {
  return { access_key: r.access_key, name: r.name, project_id: r.project_id, created_at: r.created_at, ...keyScope(r) };
}

async function newKey(ctx: ApiContext, project: string, name: string, scope?: KeyScope): Promise<ApiKey> {
  const { record, secret } = await ctx.apiKeys.create(project, name, scope);
  if (project !== ADMIN_PROJECT) ctx.events.publish(project, { type: "api-keys.created", access_key: record.access_key, name }, ctx.actor);
  return { ...toApiKey(record), secret_key: secret };
}

/** `mnq.admin.v1.api-keys.create`: a key for one project, narrowed to a role and accounts or not; its secret is in this reply only. */
export async function createApiKey(
  ctx: ApiContext,
  _project: string,
  req: { project_id: string; name?: string; role?: ApiKeyRole; nats_account_ids?: string[] | null },
): Promise<ApiKey> {
  return newKey(ctx, req.project_id, req.name || generateName(), { role: req.role ?? "owner", nats_account_ids: req.nats_account_ids ?? null });
}

export async function listApiKeys(
  ctx: ApiContext,
  _project: string,
  req: { project_id?: string; page?: number; page_size?: number },
): Promise<{ total_count: number; api_keys: ApiKey[] }> {
  const page = pageOf(await ctx.apiKeys.list(req.project_id), { page: req.page, page_size: req.page_size });
  return { total_count: page.total_count, api_keys: page.items.map(toApiKey) };
}

/**
 * `mnq.admin.v1.api-keys.delete`: the key stops authenticating at once, and the connections made
 * with it (in the project's api-clients account, or MNQ for an admin key) are closed.
 */
export async function deleteApiKey(ctx: ApiContext, _project: string, req: { access_key: string }): Promise<Record<string, never>> {
  const rec = await ctx.apiKeys.delete(req.access_key);
  if (rec.project_id !== ADMIN_PROJECT) ctx.events.publish(rec.project_id, { type: "api-keys.deleted", access_key: req.access_key, name: rec.name }, ctx.actor);
  return {};
}

/**
 * Makes sure `<data dir>/admin-api-key.json` (`{access_key, secret_key}`, 0600) holds an admin key
 * this KV knows: on the first start, and whenever the file's key does not work here (the data dir
 * met a fresh KV: a new cluster, another MNQ_NATS_URL), a new admin key is made and written.
 * Returns the file's path.
 */
export async function ensureAdminApiKeyFile(ctx: ApiContext): Promise<string> {
  const path = join(ctx.cfg.dataDir, DataFile.adminApiKey);
  if (existsSync(path)) {
    if (await adminKeyWorks(ctx, path)) return path;
    ctx.log.warn({ file: path }, "the admin API key in the data dir is not known to this KV; a new one is written there");
  }
  const key = await newKey(ctx, ADMIN_PROJECT, "admin");
  writeSecretFile(path, `${JSON.stringify({ access_key: key.access_key, secret_key: key.secret_key }, null, 2)}\n`);
  return path;
}

/** True when the file holds an admin key of this KV with its right secret. */
async function adminKeyWorks(ctx: ApiContext, path: string): Promise<boolean> {
  let held: { access_key?: unknown; secret_key?: unknown };
  try {
    held = JSON.parse(readFileSync(path, "utf8")) as typeof held;
  } catch {
    return false;
  }
  if (typeof held.access_key !== "string" || typeof held.secret_key !== "string") return false;
  return ctx.apiKeys.isAdmin(held.access_key, held.secret_key);
}
