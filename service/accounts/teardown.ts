import { connect, jwtAuthenticator } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { NKeyPair, type SeedVault, userJwt } from "../identity/index.ts";
import { ConflictError } from "../contract/errors.ts";
import { accountGroup, type AccountRecord, Store, type StoreViews } from "../store/index.ts";
import { inBatches } from "../runtime/batches.ts";
import { removeCredentials } from "../credentials/index.ts";
import { FaultPoint, faultPoint } from "../runtime/faults.ts";
import { errorChain } from "../runtime/error-chain.ts";
import { retrying } from "../runtime/retry.ts";
import type { AccountPublisher } from "./publisher.ts";
import type { ResolverClient } from "../resolver/index.ts";

const REVOKE_AHEAD_SECONDS = 366 * 24 * 3600;
/** Stream deletes a teardown sends at once. */
const STREAM_DELETES_AT_ONCE = 32;
/**
 * How long a teardown asks an account's JetStream before it takes it for none: a server that loads
 * the account for the teardown's connect enables its JetStream a moment later (at 120,000 accounts
 * the first ask found no responders).
 */
const JETSTREAM_WAIT_MS = 5000;
const NO_JETSTREAM = /jetstream (is )?not enabled|\b503\b|no ?responders/i;

/**
 * True for what a request to an account's JetStream API fails with when nothing answers it: the
 * account has no JetStream, or not yet. nats.js says so in the error's cause (`JetStreamNotEnabled`
 * ← `no responders`), so the whole chain is read.
 */
export function noJetStream(err: unknown): boolean {
  return NO_JETSTREAM.test(errorChain(err));
}

export interface TeardownDeps {
  store: Store;
  /** The account's credentials are found here (a KV listing would leave a consumer behind); accounts by id. */
  views: Pick<StoreViews, "credentials" | "accounts">;
  vault: SeedVault;
  resolver: ResolverClient;
  publisher: AccountPublisher;
  /** Server URL(s) the service connects to; the teardown connects there as the account. */
  servers: string | string[];
  /** TLS options of the service's connections (the CA that verifies the servers). */
  clientTls?: { tls?: { caFile: string } };
  /** Makes every instance's auth callout refuse the account from now on, until its copy holds the record's `deleting` revision (see revocation/). */
  fenceAccount: (accountId: string, revision: number) => Promise<unknown>;
}

/** A `*` revocation no later than this far ahead is the freeze; the final one lies a year ahead. */
const FROZEN_HORIZON_SECONDS = 24 * 3600;

/**
 * Deletes a tenant account completely, in an order that a retry (or the start-up reconcile)
 * resumes from any point: the record is first marked `deleting`; then the account's streams
 * (KV and object buckets are streams too) are deleted once the account is frozen (every user
 * revoked up to then, connections closed); every user is then revoked for good; the JWT is removed
 * from the resolvers; last the records go.
 */
export async function teardownAccount(deps: TeardownDeps, project: string, accountId: string, opts: { rollback?: boolean } = {}): Promise<boolean> {
  const key = Store.accountKey(project, accountId);
  // Resumable: an `active` record is marked, a `deleting` one (an earlier attempt) is carried on.
  // A rollback (reconcile) takes a `creating` record whose create died.
  const from = opts.rollback ? "creating" : "active";
  const marked = await deps.store.accounts.modify(key, (cur) =>
    cur && cur.value.state === from ? { ...cur.value, state: "deleting", updated_at: new Date().toISOString() } : null,
  );
  if (marked?.value.state !== "deleting") return false;
  faultPoint(FaultPoint.deleteMarked);
  // Freeze, then delete the data: `*` revokes every user issued up to now, which closes every
  // connection of the account (creds files and the callout's, which is fenced first so that no
  // instance admits anyone into it again); nobody but the teardown user, issued after the freeze,
  // can then create or write a stream while they are deleted. A `*` a year ahead means the
  // streams are gone already.
  const star = marked.value.revocations["*"];
  const nowSec = () => Math.floor(Date.now() / 1000);
  if (star === undefined || star < nowSec() + FROZEN_HORIZON_SECONDS) {
    let frozenAt = star;
    if (frozenAt === undefined) {
      await deps.fenceAccount(accountId, marked.revision);
      frozenAt = nowSec();
      const at = frozenAt;
      const frozen = await deps.store.accounts.modify(key, (cur) => {
        if (!cur) return null;
        const revocations = { ...cur.value.revocations, "*": at };
        return { ...cur.value, revocations, ...deps.publisher.issue({ ...cur.value, revocations }) };
      });
      if (frozen) await deps.resolver.push(frozen.value.jwt);
    } else {
      // a resumed delete: a resolver may have lost the account, and its user must get in
      await deps.resolver.push(marked.value.jwt);
    }
    // The teardown user's `iat` (seconds) must be after the freeze. A timer may fire a few ms
    // before the wall clock reaches its time (libuv counts from the loop's cached time), so the
    // clock itself is checked: a user issued in the freeze's second is revoked with the rest.
    while (nowSec() <= frozenAt) await new Promise((r) => setTimeout(r, (frozenAt + 1) * 1000 - Date.now() + 5));
    await deleteStreams(deps, marked.value);
  }
  const revoked = await deps.store.accounts.modify(key, (cur) => {
    if (!cur) return null;
    // "*" revokes every user JWT issued up to that time. A year ahead also covers a session the
    // auth callout signs while this delete runs (sessions live far less).
    const revocations = { ...cur.value.revocations, "*": Math.floor(Date.now() / 1000) + REVOKE_AHEAD_SECONDS };
    return { ...cur.value, revocations, ...deps.publisher.issue({ ...cur.value, revocations }) };
  });
  if (revoked) await deps.resolver.push(revoked.value.jwt);
  faultPoint(FaultPoint.deleteRevoked);
  await deps.resolver.delete([accountId]);
  faultPoint(FaultPoint.deleteUnpublished);
  await deps.views.credentials.catchUp();
  // every user of the account is revoked ("*") and its JWT gone: nothing is left to close
  await removeCredentials(deps.store, project, accountId, await deps.views.credentials.group(accountGroup(project, accountId)));
  await deps.store.accounts.delete(key);
  await releasePlace(deps.store, project, accountId);
  await releaseClaim(deps.store, project, accountId);
  return true;
}

/** Frees the account id for another create or import, when `project` holds its claim (a revision-checked delete). */
export async function releaseClaim(store: Store, project: string, accountId: string): Promise<void> {
  const held = await store.accountOwners.latest(accountId);
  if (!held || held.value.project_id !== project) return;
  await store.accountOwners.delete(accountId, held.revision).catch((err: unknown) => {
    if (!(err instanceof ConflictError)) throw err; // claimed again meanwhile: not ours to free
  });
}

/** Frees the project's place held for an account (a revision-checked update; nothing when not held). */
export async function releasePlace(store: Store, project: string, accountId: string): Promise<void> {
  await store.projects.modify(project, (cur) =>
    cur && cur.value.accounts.includes(accountId) ? { ...cur.value, accounts: cur.value.accounts.filter((a) => a !== accountId) } : null,
  );
}

/** Connects as the account (a short-lived user signed with its signing key) and deletes every stream. */
async function deleteStreams(deps: TeardownDeps, account: AccountRecord): Promise<void> {
  // a project's api-clients account has no JetStream (its limits are 0): nothing to delete
  if (account.kind === "api-clients") return;
  const signer = deps.vault.signer(account.signing_seed, account.id, "account");
  const user = NKeyPair.create("user");
  const token = userJwt(
    { name: "mnq-teardown", user: user.getPublicKey(), account: account.id, exp: Math.floor(Date.now() / 1000) + 120 },
    signer,
  );
  const nc = await connect({
    servers: deps.servers,
    authenticator: jwtAuthenticator(token, user.getSeed()),
    name: "mnq-teardown",
    reconnect: false,
    ...deps.clientTls,
  });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    // not yet enabled: asked again; none after JETSTREAM_WAIT_MS: nothing to delete
    await retrying(
      async () => {
        const names: string[] = [];
        for await (const name of jsm.streams.names()) names.push(name);
        // a bounded number at once: every stream delete at once (an account holds up to
        // MNQ_ACCOUNT_STREAMS) outlasted the request timeout
        await inBatches(names, STREAM_DELETES_AT_ONCE, (n) => jsm.streams.delete(n));
      },
      noJetStream,
      { withinMs: JETSTREAM_WAIT_MS },
    );
  } catch (err) {
    if (!noJetStream(err)) throw err;
  } finally {
    await nc.close();
  }
}

