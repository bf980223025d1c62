/**
 * Every subject of mnq's wire contract (docs/api.md), named once. Handlers, permissions, JWT
 * imports and exports, the CLI and the AsyncAPI document (docs/asyncapi.json) read them here.
 */

/** Project endpoints: `mnq.api.v1.<project>.<operation>`. */
export const API_PREFIX = "mnq.api.v1";
/** Operator endpoints: `mnq.admin.v1.<operation>` (admin.creds and admin API keys only). */
export const ADMIN_PREFIX = "mnq.admin.v1";
/** Events: `mnq.events.v1.<project>.<resource>.<event>`. */
export const EVENTS_PREFIX = "mnq.events.v1";
/** Between instances: a delete's fence (see revocation/fence.ts). */
export const FENCE_SUBJECT = "mnq.internal.v1.fence";
/** Where nats-server asks the auth callout, in the callout account. */
export const CALLOUT_SUBJECT = "$SYS.REQ.USER.AUTH";

/** The project endpoints, in docs/api.md's order. */
export const PROJECT_OPERATIONS = [
  "nats-accounts.create",
  "nats-accounts.list",
  "nats-accounts.get",
  "nats-accounts.update",
  "nats-accounts.delete",
  "nats-accounts.usage",
  "nats-accounts.rotate-signing-key",
  "nats-accounts.import",
  "nats-credentials.create",
  "nats-credentials.list",
  "nats-credentials.get",
  "nats-credentials.delete",
] as const;
export type ProjectOperation = (typeof PROJECT_OPERATIONS)[number];

/** The operator's endpoints. */
export const ADMIN_OPERATIONS = ["api-keys.create", "api-keys.list", "api-keys.delete", "status"] as const;
export type AdminOperation = (typeof ADMIN_OPERATIONS)[number];

/** The events, by their subject's last two tokens (`nats-accounts.quota` carries `type: "quota"`). */
export const EVENT_TYPES = [
  "nats-accounts.created",
  "nats-accounts.deleted",
  "nats-accounts.updated",
  "nats-accounts.quota",
  "nats-credentials.created",
  "nats-credentials.deleted",
  "api-keys.created",
  "api-keys.deleted",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** `mnq.api.v1.<project>.<operation>`. */
export function apiSubject(project: string, operation: ProjectOperation): string {
  return `${API_PREFIX}.${project}.${operation}`;
}

/** `mnq.admin.v1.<operation>`. */
export function adminSubject(operation: AdminOperation): string {
  return `${ADMIN_PREFIX}.${operation}`;
}

/** Every endpoint of `project` (a project id, or `*`): what its callers may publish to and what its client account imports. */
export function projectApi(project: string): string {
  return `${API_PREFIX}.${project}.>`;
}

/** `mnq.events.v1.<project>.<type>`. */
export function eventSubject(project: string, type: EventType): string {
  return `${EVENTS_PREFIX}.${project}.${type}`;
}

/** Every event of `project` (a project id, or `*`). */
export function projectEvents(project: string): string {
  return `${EVENTS_PREFIX}.${project}.>`;
}

/** The project of an API subject (`mnq.api.v1.<project>.…`). */
export function projectOfApiSubject(subject: string): string {
  return subject.split(".")[3] ?? "";
}

/** How subjects match (NATS wildcards: `*` one token, a final `>` one or more). */
const tokens = (subject: string) => subject.split(".");

/** True when every subject `inner` matches is matched by `outer` (`inner` lies within `outer`). */
export function subjectWithin(inner: string, outer: string): boolean {
  const a = tokens(inner);
  const b = tokens(outer);
  for (let i = 0; i < b.length; i++) {
    if (b[i] === ">") return i < a.length;
    if (i >= a.length || a[i] === ">") return false;
    if (b[i] !== "*" && b[i] !== a[i]) return false;
  }
  return a.length === b.length;
}

/** True when some subject is matched by both. */
export function subjectsOverlap(x: string, y: string): boolean {
  const a = tokens(x);
  const b = tokens(y);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === ">" || b[i] === ">") return true;
    if (a[i] !== "*" && b[i] !== "*" && a[i] !== b[i]) return false;
  }
  return a.length === b.length;
}
