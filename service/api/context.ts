import type { NatsConnection } from "@nats-io/nats-core";
import type { Config } from "../config/index.ts";
import type { SeedVault } from "../identity/index.ts";
import type { Logger } from "../log.ts";
import type { AccountPublisher, ResolverClient, TeardownDeps } from "../resolver/index.ts";
import type { RevokeDeps } from "../revocation/index.ts";
import type { Store, StoreViews } from "../store/index.ts";

/** What every API handler may use; built once in main.ts. */
export interface ApiContext {
  readonly cfg: Readonly<Config>;
  /** The service's version (package.json). */
  readonly version: string;
  readonly store: Store;
  /** In-memory copies of the buckets (KV watches): list pages and the callout read them. */
  readonly views: StoreViews;
  readonly vault: SeedVault;
  readonly resolver: ResolverClient;
  readonly publisher: AccountPublisher;
  readonly teardown: TeardownDeps;
  /** Closes the connections the auth callout admitted for a deleted owner. */
  readonly revoke: RevokeDeps;
  readonly log: Logger;
  /** The system user's connection: usage is read from the servers' `$SYS` endpoints. */
  readonly sys: NatsConnection;
}
