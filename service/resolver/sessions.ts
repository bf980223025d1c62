import { NotFoundError } from "../errors.ts";
import type { Store } from "../store/index.ts";
import type { AccountPublisher } from "./accounts.ts";

export interface SessionDeps {
  store: Store;
  publisher: AccountPublisher;
  sessionTtlSeconds: number;
}

/**
 * Revokes every connection the auth callout admitted for `owner` (a credential's user key or an API
 * key) in `accountId`, plus `alsoRevoke` (e.g. the credential's own user key), in one JWT push: the
 * server then closes them. A session key is revoked until a time no JWT issued for it can outlive,
 * so a session admitted while this runs is covered too. Returns the session records' keys. An
 * account that is gone (or going) admits nobody any more: nothing to revoke there.
 */
export async function revokeSessions(
  deps: SessionDeps,
  owner: string,
  project: string,
  accountId: string,
  alsoRevoke: Record<string, number> = {},
): Promise<string[]> {
  const keys = await deps.store.sessions.keys(`${owner}.*`);
  const until = Math.floor(Date.now() / 1000) + deps.sessionTtlSeconds + 60;
  const sessions = keys.map((k) => k.slice(owner.length + 1));
  try {
    await deps.publisher.change(project, accountId, (cur) => {
      const fresh = Object.keys(alsoRevoke).filter((k) => cur.revocations[k] === undefined);
      const newSessions = sessions.filter((k) => cur.session_revocations?.[k] === undefined);
      if (fresh.length === 0 && newSessions.length === 0) return null;
      return {
        revocations: { ...cur.revocations, ...Object.fromEntries(fresh.map((k) => [k, alsoRevoke[k] as number])) },
        session_revocations: { ...cur.session_revocations, ...Object.fromEntries(newSessions.map((k) => [k, until])) },
      };
    });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  return keys;
}
