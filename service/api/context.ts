import type { ApiKeys, KeyScope } from "../api-keys/index.ts";
import type { Config } from "../config/index.ts";
import type { Credentials } from "../credentials/index.ts";
import type { Logger } from "../runtime/log.ts";
import type { Observe } from "../observe/index.ts";
import type { AccountUsage } from "../quota/index.ts";
import type { AccountExport, AccountImport, AccountRecord, CredentialsRecord, FleetCounter, HeldAccount } from "../store/index.ts";
import type { Actor, EventPublisher } from "./events.ts";

/**
 * What the handlers call of the account lifecycle: the `Accounts` of accounts/, wired in main.ts.
 * Named here so that the API depends on what it asks, not on how accounts are kept.
 */
export interface AccountOperations {
  /** The service's own account: requests published there are an admin's. */
  readonly mnqAccount: string;
  get(project: string, id: string): Promise<HeldAccount>;
  list(project: string, order: string, compare: (a: HeldAccount, b: HeldAccount) => number): Promise<readonly HeldAccount[]>;
  create(project: string, name: string): Promise<AccountRecord>;
  import(project: string, req: { name: string; account_id: string; private_key: string }): Promise<AccountRecord>;
  update(project: string, id: string, change: { name?: string; exports?: AccountExport[]; imports?: AccountImport[] }): Promise<{ account: AccountRecord; changed: boolean }>;
  rotateSigningKey(project: string, id: string, retirePrevious: boolean): Promise<{ account: AccountRecord; retired: CredentialsRecord[] }>;
  delete(project: string, id: string): Promise<{ deleted: AccountRecord; importers: AccountRecord[] }>;
  usage(project: string, id: string): Promise<AccountUsage>;
}

/** What the API handlers call: the domain objects, built once in main.ts, and nothing below them. */
export interface ApiContext {
  readonly cfg: Readonly<Config>;
  /** The service's version (package.json). */
  readonly version: string;
  /** The account lifecycle: every change of an account goes through it. */
  readonly accounts: AccountOperations;
  /** The accounts' credentials: made, read, listed and deleted within their bound. */
  readonly credentials: Credentials;
  /** The keys that call the API. */
  readonly apiKeys: ApiKeys;
  /** The fleet's size (`mnq.admin.v1.status`, the gauges). */
  readonly counts: FleetCounter;
  /** Every nats-server that answers a ping, with its version (`mnq.admin.v1.status`). */
  readonly servers: () => Promise<{ name: string; version: string }[]>;
  readonly log: Logger;
  /** Lifecycle events (`mnq.events.v1.<project>.…`). */
  readonly events: EventPublisher;
  /** Counts every answer (metrics, `$SRV.STATS`). */
  readonly observe?: Observe;
  /** Who made the request being handled (set per request). */
  readonly actor?: Actor;
  /** How far the caller reaches (set per request; the owner's whole project when absent). */
  readonly scope?: KeyScope;
}
