import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { RecordBucket } from "./bucket.ts";
import type {
  AccountOwnerRecord,
  AccountRecord,
  ApiKeyRecord,
  CredentialKeyRecord,
  CredentialsRecord,
  ProjectRecord,
  QuotaStateRecord,
} from "./records.ts";
import { ADMIN_PROJECT } from "./records.ts";

/** Names of mnq's KV buckets, all in the MNQ account. */
export const BucketName = {
  accounts: "mnq-accounts",
  credentials: "mnq-credentials",
  projects: "mnq-projects",
  apiKeys: "mnq-api-keys",
  credentialKeys: "mnq-credential-keys",
  quota: "mnq-quota",
  accountOwners: "mnq-account-owners",
} as const;

/** Buckets earlier versions wrote and this one no longer reads: removed at start. */
const RETIRED_BUCKETS = ["mnq-sessions"] as const;

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
    readonly apiKeys: RecordBucket<ApiKeyRecord>,
    readonly credentialKeys: RecordBucket<CredentialKeyRecord>,
    readonly quota: RecordBucket<QuotaStateRecord>,
    readonly accountOwners: RecordBucket<AccountOwnerRecord>,
  ) {}

  /** Opens the buckets, creating them (with `replicas`) when missing. */
  static async open(nc: NatsConnection, opts: StoreOptions): Promise<Store> {
    const timeout = opts.timeout ?? 5000;
    const js = jetstream(nc, { timeout });
    const jsm = await jetstreamManager(nc, { timeout, checkAPI: false });
    const kvm = new Kvm(js);
    const open = async <T>(name: string) => new RecordBucket<T>(await kvm.create(name, { replicas: opts.replicas, history: 1, timeout }), name, js, jsm, nc);
    const [accounts, credentials, projects, apiKeys, credentialKeys, quota, accountOwners] = await Promise.all([
      open<AccountRecord>(BucketName.accounts),
      open<CredentialsRecord>(BucketName.credentials),
      open<ProjectRecord>(BucketName.projects),
      open<ApiKeyRecord>(BucketName.apiKeys),
      open<CredentialKeyRecord>(BucketName.credentialKeys),
      open<QuotaStateRecord>(BucketName.quota),
      open<AccountOwnerRecord>(BucketName.accountOwners),
    ]);
    await removeRetiredBuckets(nc);
    return new Store(accounts, credentials, projects, apiKeys, credentialKeys, quota, accountOwners);
  }

  static accountKey(project: string, accountId: string): string {
    return `${project}.${accountId}`;
  }

  /** `*.<account id>`: the key of an account whatever its project. */
  static accountPattern(accountId: string): string {
    return `*.${accountId}`;
  }

  /** `<project>.<account id>.<credentials id>`: an account's credentials are one prefix (its list, its bound). */
  static credentialsKey(project: string, accountId: string, credentialsId: string): string {
    return `${project}.${accountId}.${credentialsId}`;
  }

  /** `<project>.*.<credentials id>`: the key of credentials whose account is not known (a get by id). */
  static credentialsPattern(project: string, credentialsId: string): string {
    return `${project}.*.${credentialsId}`;
  }

  /** `<project>.<access key>` (`_admin.` for admin keys): a project's keys are one prefix (its list). */
  static apiKeyKey(project: string, accessKey: string): string {
    return `${apiKeyProject(project)}.${accessKey}`;
  }

  /** `*.<access key>`: the key of an API key whose project is not known (the callout). */
  static apiKeyPattern(accessKey: string): string {
    return `*.${accessKey}`;
  }
}

/** The first token of an API key's key: its project, or `_admin` for admin keys (`*` is not a key token). */
export function apiKeyProject(project: string): string {
  return project === ADMIN_PROJECT ? "_admin" : project;
}

/** Deletes the buckets of earlier versions (an upgrade); one that is not there is fine. */
async function removeRetiredBuckets(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  for (const name of RETIRED_BUCKETS) {
    await jsm.streams.delete(`KV_${name}`).catch((err: unknown) => {
      if (!/not found/i.test(String(err))) throw err;
    });
  }
}
