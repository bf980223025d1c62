import type { Export, Import } from "@nats-io/jwt";
import { accountJwt, type AccountLimits, type NKeyPair, peekClaims, type SeedVault } from "../identity/index.ts";
import { NotFoundError } from "../contract/errors.ts";
import { type AccountRecord, Store, type Versioned } from "../store/index.ts";
import type { ResolverClient } from "../resolver/index.ts";
import { projectApi, projectEvents } from "../contract/subjects.ts";

const CONVERGE_ROUNDS = 5;

type JwtImport = Partial<Import>;
type JwtExport = Partial<Export>;
const RESPONSE_TYPES = { singleton: "Singleton", stream: "Stream", chunked: "Chunked" } as const;

interface PendingChange {
  mutate: (current: AccountRecord) => Partial<AccountRecord> | null;
  resolve: (record: AccountRecord) => void;
  reject: (err: unknown) => void;
}

/**
 * An `api-clients` account holds no JetStream data; it only reaches MNQ through its imports. Its
 * connections and subscriptions are bounded like a tenant account's.
 */
function clientAccountLimits(tenant: AccountLimits): AccountLimits {
  return { disk_storage: 0, mem_storage: 0, streams: 0, consumer: 0, payload: 1024 * 1024, conn: tenant.conn, subs: tenant.subs };
}

/**
 * The imports of a project's `api-clients` account: its own API subjects and events from MNQ. The
 * API import shares the caller (`Nats-Request-Info`: its account and access key), which names the
 * `actor` of lifecycle events.
 */
function clientImports(record: Pick<AccountRecord, "project_id" | "api_events">, mnqAccount: string): JwtImport[] {
  const project = record.project_id;
  return [
    { name: "mnq-api", subject: projectApi(project), account: mnqAccount, type: "service" as const, share: true },
    ...(record.api_events === false ? [] : [{ name: "mnq-events", subject: projectEvents(project), account: mnqAccount, type: "stream" as const }]),
  ];
}

/** A tenant account's imports as its JWT carries them: the exporter's subject, seen at `local_subject`. */
function tenantImports(record: Pick<AccountRecord, "imports">): JwtImport[] | undefined {
  if (!record.imports?.length) return undefined;
  return record.imports.map((i) => ({
    name: i.name ?? `${i.type}:${i.subject}`,
    subject: i.subject,
    account: i.nats_account_id,
    type: i.type,
    ...(i.local_subject !== undefined && i.local_subject !== i.subject ? { local_subject: i.local_subject } : {}),
  }));
}

/** A tenant account's exports as its JWT carries them (public: any account of the operator may import, the service checks the project). */
function tenantExports(record: Pick<AccountRecord, "exports">): JwtExport[] | undefined {
  if (!record.exports?.length) return undefined;
  return record.exports.map((e) => ({
    name: e.name ?? `${e.type}:${e.subject}`,
    subject: e.subject,
    type: e.type,
    ...(e.type === "service" ? { response_type: RESPONSE_TYPES[e.response_type ?? "singleton"] } : {}),
  }));
}

/**
 * Issues tenant account JWTs from their KV records and keeps the resolvers in step with KV.
 *
 * Every change of an account JWT is a revision-checked KV update, so changes of one account are
 * serialized across instances, and each carries a strictly larger `iat`. A resolver answering a
 * direct CLAIMS.UPDATE takes whatever it is sent (even an older `iat`), so after pushing, the
 * writer re-reads the record and pushes again if a newer revision was written meanwhile:
 * the last push is then always the newest record.
 */
export class AccountPublisher {
  constructor(
    private readonly store: Store,
    private readonly resolver: ResolverClient,
    private readonly operatorSigner: NKeyPair,
    private readonly limits: AccountLimits,
    readonly mnqAccount: string,
  ) {}

  private limitsOf(record: Pick<AccountRecord, "kind">): AccountLimits {
    return record.kind === "api-clients" ? clientAccountLimits(this.limits) : this.limits;
  }

  /** A JWT for the record as it stands, with an `iat` above the last one issued. */
  issue(record: Omit<AccountRecord, "jwt" | "jwt_iat"> & { jwt_iat?: number }): { jwt: string; jwt_iat: number } {
    const now = Math.floor(Date.now() / 1000);
    const iat = Math.max(now, (record.jwt_iat ?? 0) + 1);
    const jwt = accountJwt(
      {
        name: record.name,
        account: record.id,
        signingKeys: [record.signing_key, ...(record.previous_signing_keys ?? [])],
        limits: this.limitsOf(record),
        revocations: record.revocations,
        imports: record.kind === "api-clients" ? clientImports(record, this.mnqAccount) : tenantImports(record),
        exports: record.kind === "api-clients" ? undefined : tenantExports(record),
        iat,
      },
      this.operatorSigner,
    );
    return { jwt, jwt_iat: iat };
  }

  /**
   * True when the record's JWT carries other limits than the policy's (the policy changed), or an
   * api-clients account's imports are an earlier version's.
   */
  isStale(record: AccountRecord): boolean {
    const nats = peekClaims<{ limits?: Record<string, unknown>; imports?: { subject?: string; share?: boolean }[] }>(record.jwt).nats;
    const limits = nats.limits ?? {};
    const want: AccountLimits = { max_bytes_required: false, ...this.limitsOf(record) };
    if ((Object.keys(want) as (keyof AccountLimits)[]).some((k) => (limits[k] ?? false) !== want[k])) return true;
    if (record.kind !== "api-clients") return false;
    const expected = clientImports(record, this.mnqAccount);
    const held = nats.imports ?? [];
    return expected.some((e) => !held.some((h) => h.subject === e.subject && (h.share ?? false) === (e.share ?? false)));
  }

  /**
   * Changes an account record and its JWT: `mutate` gets the current record and returns the new
   * fields (null: leave it). The JWT is re-issued, written with a revision check, then pushed.
   * Changes of one account that arrive while one is being written are applied together in the
   * next write (one KV update, one push), so a burst of deletes in one account neither conflicts
   * on the revision check nor pushes its JWT once per delete.
   */
  change(project: string, accountId: string, mutate: (current: AccountRecord) => Partial<AccountRecord> | null): Promise<AccountRecord> {
    const key = Store.accountKey(project, accountId);
    return new Promise((resolve, reject) => {
      const waiting = this.#pending.get(key);
      if (waiting) {
        waiting.push({ mutate, resolve, reject });
        return;
      }
      this.#pending.set(key, [{ mutate, resolve, reject }]);
      void this.#drain(key, accountId);
    });
  }

  /** Changes of one account not yet written, by record key; an entry exists while they are being written. */
  readonly #pending = new Map<string, PendingChange[]>();

  async #drain(key: string, accountId: string): Promise<void> {
    const queue = this.#pending.get(key)!;
    for (;;) {
      const batch = queue.splice(0);
      if (batch.length === 0) {
        this.#pending.delete(key);
        return;
      }
      try {
        const records = await this.#write(key, accountId, batch.map((c) => c.mutate));
        batch.forEach((c, i) => c.resolve(records[i]!));
      } catch (err) {
        for (const c of batch) c.reject(err);
      }
    }
  }

  /**
   * Applies `mutations` in order in one revision-checked write and one push. Returns, for each,
   * the record as that mutation left it: its caller's answer is its own change, not the group's
   * last (a later change in the group may then overwrite it, as a later request would).
   */
  async #write(key: string, accountId: string, mutations: ((current: AccountRecord) => Partial<AccountRecord> | null)[]): Promise<AccountRecord[]> {
    let missing = false;
    let changed = false;
    let each: AccountRecord[] = [];
    const written = await this.store.accounts.modify(key, (cur) => {
      changed = false;
      each = [];
      if (!cur || cur.value.state !== "active") {
        missing = true;
        return null;
      }
      let next: AccountRecord = cur.value;
      for (const mutate of mutations) {
        const fields = mutate(next);
        if (fields !== null) {
          changed = true;
          next = { ...next, ...fields };
        }
        each.push(next);
      }
      if (!changed) return null;
      return { ...next, ...this.issue(next) };
    });
    if (missing || !written) throw new NotFoundError("nats_account", accountId);
    if (changed) await this.publish(written);
    return each;
  }

  /** Pushes a record's JWT, then re-pushes while KV holds a newer revision than the one pushed. */
  async publish(pushed: Versioned<AccountRecord>): Promise<void> {
    let last = pushed;
    await this.resolver.push(last.value.jwt);
    for (let i = 0; i < CONVERGE_ROUNDS; i++) {
      const now = await this.store.accounts.get(last.key);
      if (!now || now.revision <= last.revision || now.value.jwt === last.value.jwt) return;
      if (now.value.state !== "active") return;
      last = now;
      await this.resolver.push(last.value.jwt);
    }
  }
}

/**
 * A new account's record with its JWT: the identity and signing seeds sealed (bound to the account
 * id), no revocations. `kind` marks a project's api-clients account.
 */
export function newAccountRecord(
  deps: { vault: SeedVault; publisher: AccountPublisher },
  keys: { account: NKeyPair; signing: NKeyPair },
  fields: Pick<AccountRecord, "project_id" | "name" | "kind" | "access_key" | "api_events">,
  state: "creating" | "active" = "active",
): AccountRecord {
  const id = keys.account.getPublicKey();
  const now = new Date().toISOString();
  const base = {
    id,
    ...fields,
    created_at: now,
    updated_at: now,
    seed: deps.vault.seal(keys.account.seedString(), id),
    signing_seed: deps.vault.seal(keys.signing.seedString(), id),
    signing_key: keys.signing.getPublicKey(),
    revocations: {},
    state,
  };
  if (!base.kind) delete base.kind;
  return { ...base, ...deps.publisher.issue(base) };
}
