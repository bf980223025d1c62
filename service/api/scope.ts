import { type KeyScope, OWNER_SCOPE } from "../api-keys/index.ts";
import type { ProjectOperation } from "../contract/subjects.ts";
import { NotFoundError, PermissionsDeniedError } from "../contract/errors.ts";

/** A reader's calls (docs/api.md "Scoped API keys"). */
const READS: ReadonlySet<ProjectOperation> = new Set<ProjectOperation>([
  "nats-accounts.list",
  "nats-accounts.get",
  "nats-accounts.usage",
  "nats-credentials.list",
  "nats-credentials.get",
]);
/** An issuer's: a reader's, and making and deleting credentials. */
const ISSUES: ReadonlySet<ProjectOperation> = new Set<ProjectOperation>([...READS, "nats-credentials.create", "nats-credentials.delete"]);
/** What a key narrowed to accounts may never do, whatever its role: make or remove accounts. */
const PROJECT_WIDE: ReadonlySet<ProjectOperation> = new Set<ProjectOperation>(["nats-accounts.create", "nats-accounts.import", "nats-accounts.delete"]);

/** 403 `permissions_denied` when the operation is outside the scope's role, before anything is read or changed. */
export function checkRole(scope: KeyScope, operation: ProjectOperation): void {
  const allowed =
    scope.role === "owner" ? !(scope.nats_account_ids !== null && PROJECT_WIDE.has(operation)) : (scope.role === "issuer" ? ISSUES : READS).has(operation);
  if (!allowed) throw denied(operation);
}

/** The 403 of an operation: its resource and action. */
export function denied(operation: ProjectOperation): PermissionsDeniedError {
  const [resource, action] = operation.split(".") as [string, string];
  return new PermissionsDeniedError(resource === "nats-accounts" ? "nats_account" : "nats_credentials", action);
}

/** True when the scope reaches the account. */
export function covers(scope: KeyScope, accountId: string): boolean {
  return scope.nats_account_ids === null || scope.nats_account_ids.includes(accountId);
}

/** An account outside the scope is `not_found` to the caller, exactly as one that does not exist. */
export function requireAccount(scope: KeyScope, accountId: string): void {
  if (!covers(scope, accountId)) throw new NotFoundError("nats_account", accountId);
}

/** The scope of the request being handled (the owner's whole project when none was set). */
export function scopeOf(ctx: { scope?: KeyScope }): KeyScope {
  return ctx.scope ?? OWNER_SCOPE;
}
