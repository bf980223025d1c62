import type { Accounts } from "../accounts/index.ts";
import type { Config } from "../config/index.ts";
import type { SecretMac, SeedVault } from "../identity/index.ts";
import type { Logger } from "../log.ts";
import type { Observe } from "../observe/index.ts";
import type { ResolverClient } from "../resolver/index.ts";
import type { RevokeDeps } from "../revocation/index.ts";
import type { FleetCounter, Store, StoreViews } from "../store/index.ts";
import type { Actor, EventPublisher } from "./events.ts";

/** What every API handler may use; built once in main.ts. */
export interface ApiContext {
  readonly cfg: Readonly<Config>;
  /** The service's version (package.json). */
  readonly version: string;
  /** The account lifecycle: every change of an account goes through it. */
  readonly accounts: Accounts;
  readonly store: Store;
  /** Bounded copies of the buckets, kept current by their writes: list pages and the callout read them. */
  readonly views: StoreViews;
  /** The fleet's size (`mnq.admin.v1.status`, the gauges). */
  readonly counts: FleetCounter;
  readonly vault: SeedVault;
  /** API secrets as stored: an HMAC under a key derived from the master key. */
  readonly secrets: SecretMac;
  /** The `$SYS` wire to the servers' resolvers. */
  readonly resolver: ResolverClient;
  /** Closes the connections the auth callout admitted for a deleted owner. */
  readonly revoke: RevokeDeps;
  readonly log: Logger;
  /** Lifecycle events (`mnq.events.v1.<project>.…`). */
  readonly events: EventPublisher;
  /** Counts every answer (metrics, `$SRV.STATS`). */
  readonly observe?: Observe;
  /** Who made the request being handled (set per request). */
  readonly actor?: Actor;
}
