import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { RecordBucket } from "./bucket.ts";
import type { AccountRecord, CredentialsRecord, ProjectRecord } from "./records.ts";

/** Names of mnq's KV buckets, all in the MNQ account. */
export const BucketName = {
  accounts: "mnq-accounts",
  credentials: "mnq-credentials",
  projects: "mnq-projects",
} as const;

export interface StoreOptions {
  replicas: number;
  /** Per-operation timeout, ms. */
  timeout?: number;
}

/** All of mnq's state: typed buckets and the key layout. */
export class Store {
  private constructor(
    readonly accounts: RecordBucket<AccountRecord>,
    readonly credentials: RecordBucket<CredentialsRecord>,
    readonly projects: RecordBucket<ProjectRecord>,
  ) {}

  /** Opens the buckets, creating them (with `replicas`) when missing. */
  static async open(nc: NatsConnection, opts: StoreOptions): Promise<Store> {
    const kvm = new Kvm(nc);
    const open = async <T>(name: string) =>
      new RecordBucket<T>(await kvm.create(name, { replicas: opts.replicas, history: 1, timeout: opts.timeout ?? 5000 }));
    const [accounts, credentials, projects] = await Promise.all([
      open<AccountRecord>(BucketName.accounts),
      open<CredentialsRecord>(BucketName.credentials),
      open<ProjectRecord>(BucketName.projects),
    ]);
    return new Store(accounts, credentials, projects);
  }

  static accountKey(project: string, accountId: string): string {
    return `${project}.${accountId}`;
  }

  static credentialsKey(project: string, credentialsId: string): string {
    return `${project}.${credentialsId}`;
  }
}
