import { ConflictError, QuotasExceededError, UnavailableError } from "../contract/errors.ts";
import { FaultPoint, faultPoint } from "../runtime/faults.ts";
import { NKeyPair } from "../identity/index.ts";
import type { Logger } from "../runtime/log.ts";
import { type AccountRecord, Store } from "../store/index.ts";
import { newAccountRecord } from "./publisher.ts";
import { releaseClaim, releasePlace, type TeardownDeps, teardownAccount } from "./teardown.ts";

export interface CreateDeps extends TeardownDeps {
  maxAccountsPerProject: number;
  log: Logger;
}

/**
 * Reserves a place in the project (revision-checked, so concurrent creates on any instance cannot
 * pass the cap together), writes a `creating` record with a new signing key, pushes its JWT, and
 * marks it `active`. On failure nothing is left: no record, no reservation, no JWT; after a crash
 * the reconcile of any instance rolls the `creating` record (and a lone reservation) back.
 */
export async function registerAccount(
  deps: CreateDeps,
  project: string,
  account: NKeyPair,
  fields: { name: string; imported?: boolean },
): Promise<AccountRecord> {
  const id = account.getPublicKey();
  await claimAccount(deps, project, id);
  try {
    return await registerClaimed(deps, project, account, fields);
  } catch (err) {
    // the record never came to be (or was rolled back): the id is free again
    if (!(await deps.store.accounts.latest(Store.accountKey(project, id)).catch(() => "unknown"))) await releaseClaim(deps.store, project, id).catch(() => undefined);
    throw err;
  }
}

/** A claim older than this with no record behind it is a dead create's: another may take it over. */
const STALE_CLAIM_MS = 60_000;

/**
 * Makes `project` the one owner of the account id platform-wide (a create-only KV write), before
 * anything else is written: two projects importing one account at once cannot both pass, since
 * their records and reservations live under different keys. ConflictError when another create or
 * import holds it; a claim a dead create left (no record, older than STALE_CLAIM_MS) is taken over.
 */
async function claimAccount(deps: CreateDeps, project: string, id: string): Promise<void> {
  const claim = { project_id: project, claimed_at: new Date().toISOString() };
  try {
    await deps.store.accountOwners.create(id, claim);
    return;
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
  const held = await deps.store.accountOwners.latest(id);
  const stale = held && (await deps.views.accounts.find(Store.accountPattern(id))) === null && Date.now() - Date.parse(held.value.claimed_at) > STALE_CLAIM_MS;
  if (!held || !stale) throw new ConflictError("this account is already managed by mnq");
  await deps.store.accountOwners.update(id, claim, held.revision);
}

async function registerClaimed(
  deps: CreateDeps,
  project: string,
  account: NKeyPair,
  fields: { name: string; imported?: boolean },
): Promise<AccountRecord> {
  const id = account.getPublicKey();
  const max = deps.maxAccountsPerProject;
  let over = 0;
  let taken = false;
  await deps.store.projects.modify(project, (cur) => {
    const accounts = cur?.value.accounts ?? [];
    // an import of an account this project already holds (or is importing right now)
    taken = accounts.includes(id);
    if (taken) return null;
    if (accounts.length >= max) {
      over = accounts.length;
      return null;
    }
    return { ...cur?.value, project_id: project, accounts: [...accounts, id] };
  });
  if (taken) throw new ConflictError("this account is already managed by mnq");
  if (over) throw new QuotasExceededError([{ resource: "nats_accounts", quota: max, current: over }]);

  faultPoint(FaultPoint.createReserved);
  const record = newAccountRecord(deps, { account, signing: NKeyPair.create("account") }, { project_id: project, ...fields }, "creating");
  const key = Store.accountKey(project, id);
  let created = false;
  try {
    const revision = await deps.store.accounts.create(key, record);
    created = true;
    faultPoint(FaultPoint.createRecorded);
    await deps.publisher.publish({ key, value: record, revision });
    faultPoint(FaultPoint.createPushed);
    await keepPlace(deps, project, id);
    // Active only now: a crash before this leaves a `creating` record, which reconcile rolls back.
    const active = await deps.store.accounts.modify(key, (cur) => (cur?.value.state === "creating" ? { ...cur.value, state: "active" } : null));
    if (active?.value.state !== "active") throw new UnavailableError("the account create was interrupted; retry");
    return active.value;
  } catch (err) {
    if (!created) {
      await releasePlace(deps.store, project, id).catch(() => undefined);
      throw err;
    }
    // A failed write may still have landed (its reply was lost): learn what KV holds, so that the
    // answer is true. 503 means "not created, safe to retry", never "maybe".
    const settled = await settleInterruptedCreate(deps, project, id);
    if (settled) return settled;
    throw err;
  }
}

/**
 * A create slower than two reconcile rounds (a node lost under it) may find its place released as
 * the trace of a dead create. Its record is written by now, and a release looks for the record
 * after it frees the place (Reconciler.release): checking the place after writing the record, one
 * of the two always sees the other. A place taken meanwhile by another create, with the project
 * full, is a 429 and the create is rolled back.
 */
async function keepPlace(deps: CreateDeps, project: string, id: string): Promise<void> {
  let over = 0;
  await deps.store.projects.modify(project, (cur) => {
    const accounts = cur?.value.accounts ?? [];
    if (accounts.includes(id)) return null;
    if (accounts.length >= deps.maxAccountsPerProject) {
      over = accounts.length;
      return null;
    }
    return { ...cur?.value, project_id: project, accounts: [...accounts, id] };
  });
  if (over) throw new QuotasExceededError([{ resource: "nats_accounts", quota: deps.maxAccountsPerProject, current: over }]);
}

const SETTLE_MS = 10_000;

/**
 * After a create failed past its `creating` record: the record if the create in fact completed
 * (`active`), else null once it is rolled back (JWT, records and place gone, as a delete does).
 * When KV stays unreachable the record is left to the reconcile, which rolls a `creating` record
 * back and completes a `deleting` one.
 */
async function settleInterruptedCreate(deps: CreateDeps, project: string, id: string): Promise<AccountRecord | null> {
  const key = Store.accountKey(project, id);
  const deadline = Date.now() + SETTLE_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const cur = await deps.store.accounts.get(key);
      if (!cur) return null;
      if (cur.value.state === "active") return cur.value;
      // `creating` is rolled back; `deleting` (a rollback already begun) is carried on
      if (await teardownAccount(deps, project, id, { rollback: true })) return null;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  deps.log.warn({ project, account: id, err: String(last) }, "interrupted account create left to the reconcile");
  return null;
}
