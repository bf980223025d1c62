import { type CredentialPermissions, responsesEscalation } from "../identity/index.ts";
import { InvalidArgumentsError, NotFoundError } from "../contract/errors.ts";
import type { CredentialsRecord } from "../store/index.ts";
import type { ApiContext } from "./context.ts";
import { generateName } from "./generated-names.ts";
import { type ListOptions, ordering, pageOf } from "./paging.ts";
import { covers, requireAccount, scopeOf } from "./scope.ts";

/** docs/api.md NatsCredentials. */
export interface NatsCredentials {
  id: string;
  name: string;
  nats_account_id: string;
  region: string;
  created_at: string;
  updated_at: string;
  credentials: { name: string; content: string } | null;
  checksum: string;
  permissions: CredentialPermissions | null;
  expires_at: string | null;
}

/** The farthest `expires_at` may lie ahead (docs/api.md). */
const MAX_EXPIRY_YEARS = 10;

function toNatsCredentials(ctx: ApiContext, r: CredentialsRecord, file: string | null = null): NatsCredentials {
  return {
    id: r.id,
    name: r.name,
    nats_account_id: r.nats_account_id,
    region: ctx.cfg.region,
    created_at: r.created_at,
    updated_at: r.updated_at,
    credentials: file === null ? null : { name: `${r.name}.creds`, content: file },
    checksum: r.checksum,
    permissions: r.permissions ?? null,
    expires_at: r.expires_at ?? null,
  };
}

/** `expires_at` as seconds since the epoch, checked: in the future, at most 10 years ahead. */
function expirySeconds(expiresAt: string | undefined, now: Date): number | undefined {
  if (expiresAt === undefined) return undefined;
  const at = Date.parse(expiresAt);
  if (!Number.isFinite(at)) throw InvalidArgumentsError.one("expires_at", "format", "must be an RFC 3339 time");
  if (at <= now.getTime()) throw InvalidArgumentsError.one("expires_at", "constraint", "must be in the future");
  const latest = new Date(now);
  latest.setUTCFullYear(latest.getUTCFullYear() + MAX_EXPIRY_YEARS);
  if (at > latest.getTime()) throw InvalidArgumentsError.one("expires_at", "constraint", `must be at most ${MAX_EXPIRY_YEARS} years ahead`);
  return Math.floor(at / 1000);
}

export async function createCredentials(
  ctx: ApiContext,
  project: string,
  req: { nats_account_id: string; name?: string; permissions?: CredentialPermissions; expires_at?: string },
): Promise<NatsCredentials> {
  requireAccount(scopeOf(ctx), req.nats_account_id);
  const now = new Date();
  const escalation = req.permissions ? responsesEscalation(req.permissions) : undefined;
  if (escalation) throw InvalidArgumentsError.one("permissions.allow_responses", "constraint", escalation);
  const exp = expirySeconds(req.expires_at, now);
  const { record, file } = await ctx.credentials.create(project, req.nats_account_id, { name: req.name || generateName(), permissions: req.permissions, exp, now });
  ctx.events.publish(project, { type: "nats-credentials.created", nats_account_id: record.nats_account_id, nats_credentials_id: record.id, name: record.name }, ctx.actor);
  return toNatsCredentials(ctx, record, file);
}

export async function listCredentials(
  ctx: ApiContext,
  project: string,
  req: ListOptions & { nats_account_id?: string },
): Promise<{ total_count: number; nats_credentials: NatsCredentials[] }> {
  const scope = scopeOf(ctx);
  if (req.nats_account_id !== undefined) requireAccount(scope, req.nats_account_id);
  const { order, compare } = ordering<CredentialsRecord>(req);
  const keep = scope.nats_account_ids === null ? undefined : (r: CredentialsRecord) => covers(scope, r.nats_account_id);
  const page = pageOf(await ctx.credentials.list(project, req.nats_account_id, order, compare), req, keep);
  return { total_count: page.total_count, nats_credentials: page.items.map((r) => toNatsCredentials(ctx, r)) };
}

export async function getCredentials(ctx: ApiContext, project: string, req: { nats_credentials_id: string }): Promise<NatsCredentials> {
  return toNatsCredentials(ctx, await credentialsInScope(ctx, project, req.nats_credentials_id));
}

/** The credentials, when the caller reaches their account; else `not_found`, as if there were none. */
async function credentialsInScope(ctx: ApiContext, project: string, id: string): Promise<CredentialsRecord> {
  const rec = await ctx.credentials.get(project, id);
  if (!covers(scopeOf(ctx), rec.nats_account_id)) throw new NotFoundError("nats_credentials", id);
  return rec;
}

/** `nats-credentials.delete` (see Credentials.delete); the event once the credentials' connections are closed. */
export async function deleteCredentials(ctx: ApiContext, project: string, req: { nats_credentials_id: string }): Promise<Record<string, never>> {
  if (scopeOf(ctx).nats_account_ids !== null) await credentialsInScope(ctx, project, req.nats_credentials_id);
  credentialsDeleted(ctx, project, await ctx.credentials.delete(project, req.nats_credentials_id));
  return {};
}

/** The `nats-credentials.deleted` event, once the credentials' connections are closed. */
export function credentialsDeleted(ctx: ApiContext, project: string, rec: CredentialsRecord): void {
  ctx.events.publish(project, { type: "nats-credentials.deleted", nats_account_id: rec.nats_account_id, nats_credentials_id: rec.id, name: rec.name }, ctx.actor);
}
