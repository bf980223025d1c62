import type { ConnectionTable } from "../resolver/index.ts";
import type { Fence } from "./fence.ts";
import type { FenceRelease } from "./gate.ts";

/** Margin after the last pending grant's deadline: the server registers the client right after. */
const SETTLE_MS = 250;

export interface RevokeDeps {
  fence: Fence;
  connections: ConnectionTable;
}

/** Whose connections to close: owners as the callout knows them, and the user names it gave them. */
export interface RevokeTarget {
  /** The account the callout placed them in. */
  account: string;
  /** Credential user keys or API access keys: no instance admits them from now on. */
  owners: readonly string[];
  /** The user JWT names the callout issued them (`nats-credentials-<id>`, `api-key-<access key>`). */
  names: readonly string[];
  /** The KV write that removed them: an instance's fence holds until its copy has applied it. */
  release: FenceRelease;
}

/**
 * Closes every connection the auth callout admitted for `target`, once its records are gone from
 * KV (the caller deletes them first):
 * 1. the fence: every instance refuses the owners at once, even while its views lag, and says how
 *    long a response it already sent may still be acted on (a server waits at most auth_timeout);
 * 2. the servers' connection tables are swept (CONNZ by name, KICK): connections up to now close;
 * 3. when a response may still land, the sweep runs again after it could have.
 * A kicked client that reconnects meets the callout again and is refused.
 */
export async function closeAdmittedConnections(deps: RevokeDeps, target: RevokeTarget): Promise<number> {
  if (target.owners.length === 0) return 0;
  const fenced = await deps.fence.raise(target.owners, target.release);
  // every instance measured its pending time before this moment
  const fencedAt = Date.now();
  const names = new Set(target.names);
  let closed = await deps.connections.close(target.account, names);
  if (fenced.pendingMs > 0) {
    const wait = fencedAt + fenced.pendingMs + SETTLE_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    closed += await deps.connections.close(target.account, names);
  }
  return closed;
}
