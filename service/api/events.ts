import type { NatsConnection } from "@nats-io/nats-core";
import type { Metrics } from "../observe/index.ts";
import type { QuotaEvent } from "../quota/index.ts";
import { apiKeyOfUserName } from "../revocation/index.ts";
import { eventSubject } from "../contract/subjects.ts";

/** `actor` of an event: the access key of the project API key that called, or "admin". */
export type Actor = string;

/** docs/api.md lifecycle events: `mnq.events.v1.<project>.<resource>.<event>`. */
export type LifecycleEvent =
  | { type: "nats-accounts.created" | "nats-accounts.deleted" | "nats-accounts.updated"; nats_account_id: string; name: string }
  | { type: "nats-credentials.created" | "nats-credentials.deleted"; nats_account_id: string; nats_credentials_id: string; name: string }
  | { type: "api-keys.created" | "api-keys.deleted"; access_key: string; name: string };

/**
 * Publishes lifecycle events from the instance's connection (in MNQ, whose export reaches each
 * project's api-clients account), once per change and after it took effect. One connection keeps
 * one instance's events in order. Bodies are built from ids and names only: never a secret.
 */
export class EventPublisher {
  constructor(
    private readonly nc: NatsConnection,
    private readonly metrics?: Metrics,
  ) {}

  publish(project: string, event: LifecycleEvent, actor: Actor | undefined): void {
    const body = { ...event, project_id: project, time: new Date().toISOString(), ...(actor ? { actor } : {}) };
    this.nc.publish(eventSubject(project, event.type), JSON.stringify(body));
    this.metrics?.event(event.type);
  }

  /** A quota event (see QuotaMonitor), on `mnq.events.v1.<project>.nats-accounts.quota`. */
  quota(event: QuotaEvent): void {
    this.nc.publish(eventSubject(event.project_id, "nats-accounts.quota"), JSON.stringify(event));
    this.metrics?.event(event.type);
  }
}

/** The header nats-server adds to a request crossing a service import that shares its caller. */
const REQUEST_INFO = "Nats-Request-Info";

/**
 * Who made an API call. A project API key's requests come through its api-clients account's
 * import of `mnq.api.v1.<project>.>`, which shares the caller: the server writes the connection's
 * account and user (the access key; never the secret) into `Nats-Request-Info`, replacing any
 * header of that name the client sent (as the name of the user the callout issued). Requests
 * published in MNQ itself come from admins
 * (`admin.creds`, the admin API key).
 */
export function actorOf(headers: { get(name: string): string } | undefined, mnqAccount: string): Actor | undefined {
  const raw = headers?.get(REQUEST_INFO);
  if (!raw) return "admin";
  try {
    const info = JSON.parse(raw) as { acc?: unknown; user?: unknown };
    if (info.acc === mnqAccount) return "admin";
    // the name of the user the callout issued for the key (`api-key-<access key>`)
    return typeof info.user === "string" ? (apiKeyOfUserName(info.user) ?? undefined) : undefined;
  } catch {
    return undefined; // not knowing who called, the event carries no actor
  }
}
