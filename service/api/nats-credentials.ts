import { buildCredentials, checkRevocationRoom, removeCredentials } from "../credentials/index.ts";
import { type CredentialPermissions, responsesEscalation } from "../identity/index.ts";
import { InvalidArgumentsError, NotFoundError } from "../errors.ts";
import { accountGroup, type CredentialsRecord, Store } from "../store/index.ts";
import type { ApiContext } from "./context.ts";
import { generateName } from "./generated-names.ts";
import { type ListOptions, ordering, pageOf } from "./paging.ts";

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

async function getCredentialsRecord(ctx: ApiContext, project: string, id: string): Promise<CredentialsRecord> {
  // the id alone does not name the account part of the key: the one key matching it
  const found = await ctx.views.credentials.find(Store.credentialsPattern(project, id));
  // none on the replica that answered: perhaps one that missed a write already answered (the leader's word)
  const rec = found?.value ?? (await ctx.store.credentials.latest(Store.credentialsPattern(project, id)))?.value;
  if (!rec) throw new NotFoundError("nats_credentials", id);
  return rec;
}

export async function createCredentials(
  ctx: ApiContext,
  project: string,
  req: { nats_account_id: string; name?: string; permissions?: CredentialPermissions; expires_at?: string },
): Promise<NatsCredentials> {
  const started = new Date();
  const escalation = req.permissions ? responsesEscalation(req.permissions) : undefined;
  if (escalation) throw InvalidArgumentsError.one("permissions.allow_responses", "constraint", escalation);
  const exp = expirySeconds(req.expires_at, started);
  const account = await ctx.accounts.get(project, req.nats_account_id);
  await checkRevocationRoom(ctx.views.credentials, account, ctx.cfg.maxRevocations);
  const signer = ctx.vault.signer(account.signing_seed, account.id, "account");
  const made = buildCredentials(account, signer, { name: req.name || generateName(), permissions: req.permissions, exp, now: started });
  const { record, file } = made;
  // The index (user key → credential) first: the auth callout finds nkey connections through it,
  // and an index entry without a record only points at a file nobody was ever given.
  await ctx.store.credentialKeys.create(made.index_key, made.index);
  try {
    await ctx.store.credentials.create(made.key, record);
  } catch (err) {
    await ctx.store.credentialKeys.delete(made.index_key).catch(() => undefined);
    throw err;
  }
  ctx.log.info({ project, account: account.id, credentials: record.id }, "nats credentials created");
  ctx.events.publish(project, { type: "nats-credentials.created", nats_account_id: account.id, nats_credentials_id: record.id, name: record.name }, ctx.actor);
  return toNatsCredentials(ctx, record, file);
}

export async function listCredentials(
  ctx: ApiContext,
  project: string,
  req: ListOptions & { nats_account_id?: string },
): Promise<{ total_count: number; nats_credentials: NatsCredentials[] }> {
  const view = ctx.views.credentials;
  await view.sync();
  const { order, compare } = ordering<CredentialsRecord>(req);
  // An account's credentials are one group; a project's, its accounts' groups merged.
  const accounts = req.nats_account_id ? [req.nats_account_id] : await ctx.accounts.ids(project);
  const page = pageOf(await view.sortedAcross(accounts.map((a) => accountGroup(project, a)), order, compare), req);
  return { total_count: page.total_count, nats_credentials: page.items.map((r) => toNatsCredentials(ctx, r)) };
}

export async function getCredentials(ctx: ApiContext, project: string, req: { nats_credentials_id: string }): Promise<NatsCredentials> {
  return toNatsCredentials(ctx, await getCredentialsRecord(ctx, project, req.nats_credentials_id));
}

/**
 * Stops the auth callout admitting the credential's nkey (index entry first), revokes its user key
 * in the account JWT and pushes it (the servers close its creds-file connections), closes the
 * connections the callout admitted for it, then deletes the record (a retry resumes until then).
 */
export async function deleteCredentials(
  ctx: ApiContext,
  project: string,
  req: { nats_credentials_id: string },
): Promise<Record<string, never>> {
  const rec = await getCredentialsRecord(ctx, project, req.nats_credentials_id);
  // the creds file's user key revoked in the account JWT, beside the callout's connections closing
  const revokeFile = () =>
    ctx.accounts.revokeUser(project, rec.nats_account_id, rec.user_key).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err; // an account going away admits nobody
    });
  await removeCredentials(ctx.store, project, rec.nats_account_id, [rec], { revoke: ctx.revoke, beside: revokeFile });
  ctx.log.info({ project, account: rec.nats_account_id, credentials: rec.id }, "nats credentials deleted");
  credentialsDeleted(ctx, project, rec);
  return {};
}

/** The `nats-credentials.deleted` event, once the credentials' connections are closed. */
export function credentialsDeleted(ctx: ApiContext, project: string, rec: CredentialsRecord): void {
  ctx.events.publish(project, { type: "nats-credentials.deleted", nats_account_id: rec.nats_account_id, nats_credentials_id: rec.id, name: rec.name }, ctx.actor);
}
