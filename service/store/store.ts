import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { RecordBucket } from "./bucket.ts";
import type {
  AccountRecord,
  ApiKeyRecord,
  CredentialKeyRecord,
  CredentialsRecord,
  ProjectRecord,
  QuotaStateRecord,
  SessionRecord,
} from "./records.ts";

/** Names of mnq's KV buckets, all in the MNQ account. */
export const BucketName = {
  accounts: "mnq-accounts",
  credentials: "mnq-credentials",
  projects: "mnq-projects",
  apiKeys: "mnq-api-keys",
  credentialKeys: "mnq-credential-keys",
  sessions: "mnq-sessions",
  quota: "mnq-quota",
} as const;

export interface StoreOptions {
  replicas: number;
  /** Per-operation timeout, ms. */
  timeout?: number;
  /** Lifetime of a callout session, seconds: session records live a minute longer. */
  sessionTtlSeconds: number;
}

/** All of mnq's state: typed buckets and the key layout. */
export class Store {
  private constructor(
    readonly accounts: RecordBucket<AccountRecord>,
    readonly credentials: RecordBucket<CredentialsRecord>,
    readonly projects: RecordBucket<ProjectRecord>,
    readonly apiKeys: RecordBucket<ApiKeyRecord>,
    readonly credentialKeys: RecordBucket<CredentialKeyRecord>,
    readonly sessions: RecordBucket<SessionRecord>,
    readonly quota: RecordBucket<QuotaStateRecord>,
  ) {}

  /** Opens the buckets, creating them (with `replicas`) when missing. */
  static async open(nc: NatsConnection, opts: StoreOptions): Promise<Store> {
    const kvm = new Kvm(nc);
    const open = async <T>(name: string, ttlMs = 0) =>
      new RecordBucket<T>(await kvm.create(name, { replicas: opts.replicas, history: 1, timeout: opts.timeout ?? 5000, ttl: ttlMs }));
    const [accounts, credentials, projects, apiKeys, credentialKeys, sessions, quota] = await Promise.all([
      open<AccountRecord>(BucketName.accounts),
      open<CredentialsRecord>(BucketName.credentials),
      open<ProjectRecord>(BucketName.projects),
      open<ApiKeyRecord>(BucketName.apiKeys),
      open<CredentialKeyRecord>(BucketName.credentialKeys),
      open<SessionRecord>(BucketName.sessions, (opts.sessionTtlSeconds + 60) * 1000),
      open<QuotaStateRecord>(BucketName.quota),
    ]);
    return new Store(accounts, credentials, projects, apiKeys, credentialKeys, sessions, quota);
  }

  static accountKey(project: string, accountId: string): string {
    return `${project}.${accountId}`;
  }

  static credentialsKey(project: string, credentialsId: string): string {
    return `${project}.${credentialsId}`;
  }

  /** `owner` is a credential's user key or an API key's access key. */
  static sessionKey(owner: string, userNkey: string): string {
    return `${owner}.${userNkey}`;
  }
}
