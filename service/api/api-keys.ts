import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DataFile, writeSecretFile } from "../bootstrap/index.ts";
import { NotFoundError } from "../errors.ts";
import { newAccessKey, newSecretKey, type SecretMac } from "../identity/index.ts";
import { apiKeyUserName, closeAdmittedConnections } from "../revocation/index.ts";
import { ADMIN_PROJECT, apiKeyProject, type ApiKeyRecord, BucketName, projectGroup, Store } from "../store/index.ts";
import type { ApiContext } from "./context.ts";
import { generateName } from "./generated-names.ts";
import { pageOf } from "./paging.ts";

/** docs/api.md ApiKey; `secret_key` only in the reply to create. */
export interface ApiKey {
  access_key: string;
  name: string;
  project_id: string;
  created_at: string;
  secret_key?: string;
}

function toApiKey(r: ApiKeyRecord): ApiKey {
  return { access_key: r.access_key, name: r.name, project_id: r.project_id, created_at: r.created_at };
}

/** A new API key of `project` (`*`: admin): the record to store, and its secret (never stored). */
export function apiKeyRecord(project: string, name: string, secrets: SecretMac): { record: ApiKeyRecord; secret: string } {
  const secret = newSecretKey();
  const record: ApiKeyRecord = { access_key: newAccessKey(), name, project_id: project, created_at: new Date().toISOString(), secret_hash: secrets.digest(secret) };
  return { record, secret };
}

async function newKey(ctx: ApiContext, project: string, name: string): Promise<ApiKey> {
  const { record, secret } = apiKeyRecord(project, name, ctx.secrets);
  await ctx.store.apiKeys.create(Store.apiKeyKey(project, record.access_key), record);
  ctx.log.info({ project, access_key: record.access_key }, "api key created");
  if (project !== ADMIN_PROJECT) ctx.events.publish(project, { type: "api-keys.created", access_key: record.access_key, name }, ctx.actor);
  return { ...toApiKey(record), secret_key: secret };
}

/** `mnq.admin.v1.api-keys.create`: a key for one project; its secret is in this reply only. */
export async function createApiKey(ctx: ApiContext, _project: string, req: { project_id: string; name?: string }): Promise<ApiKey> {
  // The account its connections go to exists before anyone holds the key.
  await ctx.accounts.clientAccount(req.project_id);
  return newKey(ctx, req.project_id, req.name || generateName());
}

export async function listApiKeys(
  ctx: ApiContext,
  _project: string,
  req: { project_id?: string; page?: number; page_size?: number },
): Promise<{ total_count: number; api_keys: ApiKey[] }> {
  const views = ctx.views;
  await views.apiKeys.sync();
  const byCreation = (a: ApiKeyRecord, b: ApiKeyRecord) =>
    a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.access_key < b.access_key ? -1 : a.access_key > b.access_key ? 1 : 0;
  // A project's keys are one group, held; every key of every project is walked in KV (an operator's rare call).
  let sorted: readonly ApiKeyRecord[];
  if (req.project_id) sorted = await views.apiKeys.sorted(projectGroup(apiKeyProject(req.project_id)), "created_at_asc", byCreation);
  else {
    const all: ApiKeyRecord[] = [];
    for await (const { value } of views.apiKeys.scan()) all.push(value);
    sorted = all.sort(byCreation);
  }
  const page = pageOf(sorted, { page: req.page, page_size: req.page_size });
  return { total_count: page.total_count, api_keys: page.items.map(toApiKey) };
}

/**
 * `mnq.admin.v1.api-keys.delete`: the key stops authenticating at once, and the connections made
 * with it (in the project's api-clients account, or MNQ for an admin key) are closed.
 */
export async function deleteApiKey(ctx: ApiContext, _project: string, req: { access_key: string }): Promise<Record<string, never>> {
  const rec = await ctx.views.apiKeys.find(Store.apiKeyPattern(req.access_key));
  if (!rec) throw new NotFoundError("api_key", req.access_key);
  const revision = await ctx.store.apiKeys.delete(rec.key);
  const project = rec.value.project_id;
  const account = await ctx.accounts.clientAccountId(project, project === ADMIN_PROJECT);
  if (account) {
    await closeAdmittedConnections(ctx.revoke, {
      account,
      owners: [req.access_key],
      names: [apiKeyUserName(req.access_key)],
      release: { bucket: BucketName.apiKeys, revision },
    });
  }
  ctx.log.info({ project, access_key: req.access_key }, "api key deleted");
  if (project !== ADMIN_PROJECT) ctx.events.publish(project, { type: "api-keys.deleted", access_key: req.access_key, name: rec.value.name }, ctx.actor);
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
  const rec = await ctx.views.apiKeys.find(Store.apiKeyPattern(held.access_key));
  return rec !== null && rec.value.project_id === ADMIN_PROJECT && (await ctx.secrets.verify(held.secret_key, rec.value.secret_hash));
}
