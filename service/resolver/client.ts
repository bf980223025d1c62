import { createInbox, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { deleteAccountsJwt, type NKeyPair } from "../identity/index.ts";
import { InternalError, UnavailableError } from "../contract/errors.ts";
import { ResponderCount } from "../runtime/responder-count.ts";

interface ResolverReply {
  data?: { code?: number; message?: string; account?: string };
  error?: { code?: number; description?: string };
}

/** How long a count of the servers (`$SYS.REQ.SERVER.PING`) is trusted before it is taken again. */
const SERVER_COUNT_TTL_MS = 10_000;
/** How long to wait after the last PING reply for more. */
const PING_STALL_MS = 75;
/**
 * After the first resolver's ack, how long the others have to answer: healthy nodes answer within
 * milliseconds, a node busy with JetStream writes on 2 cores can take over 500 ms; a dead node
 * costs this once, then the recount leaves it out.
 */
const ACK_SPREAD_MS = 2000;
/**
 * How long the first list of the resolvers' accounts is waited for: a server reads every JWT file
 * to answer one (19 s at 120,000 accounts on 2 cores). The others then have as long again as the
 * first took (at least ACK_SPREAD_MS): a server that died meanwhile is not waited for.
 */
const LIST_TIMEOUT_MS = 120_000;

/**
 * Talks to the servers' full resolvers as the system user: pushes and deletes account JWTs.
 * Every server's resolver answers a push; the call waits for as many acks as there are servers
 * (counted by `$SYS.REQ.SERVER.PING`), so the account is live on every node before the caller
 * answers. When a server is down the others' acks suffice after the timeout; it catches up from
 * its peers when it returns, and reconcile checks every resolver.
 */
export class ResolverClient {
  readonly #servers: ResponderCount;

  constructor(
    private readonly sys: NatsConnection,
    private readonly operatorSigner: NKeyPair,
    private readonly timeoutMs: number,
    /** Told of every push or delete that failed (metrics). */
    private readonly onFailure: (op: "push" | "delete") => void = () => undefined,
    /**
     * A system connection of its own for `listClaims`: a server answers a list on the reader of the
     * connection that asked, after reading every JWT file (19 s at 120,000 accounts), and nothing
     * else sent on that connection is read meanwhile (pushes, lookups, kicks).
     */
    private readonly lists: NatsConnection = sys,
  ) {
    this.#servers = new ResponderCount(sys, "$SYS.REQ.SERVER.PING", { ttlMs: SERVER_COUNT_TTL_MS, stallMs: PING_STALL_MS, maxWaitMs: timeoutMs });
  }

  /**
   * Every server that answers a ping (`$SYS.REQ.SERVER.PING`): its name and version, by name.
   * Done as soon as as many have answered as the last count found (a node added since is listed
   * once the count is taken again), else after the stall.
   */
  async servers(): Promise<{ name: string; version: string }[]> {
    const out: { name: string; version: string }[] = [];
    const expected = this.#servers.known;
    const replies = await this.sys.requestMany("$SYS.REQ.SERVER.PING", "", { strategy: "stall", stall: PING_STALL_MS, maxWait: this.timeoutMs });
    for await (const m of replies) {
      try {
        const s = m.json<{ server?: { name?: string; ver?: string } }>().server;
        if (s?.name) out.push({ name: s.name, version: s.ver ?? "unknown" });
      } catch {
        // not a ping reply
      }
      if (expected > 0 && out.length >= expected) break;
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** `$SYS.REQ.CLAIMS.UPDATE`: resolves with the number of resolvers that stored it (≥ 1). */
  async push(accountJwt: string): Promise<number> {
    return this.fanOut("$SYS.REQ.CLAIMS.UPDATE", accountJwt, "push the account JWT").catch((err: unknown) => {
      this.onFailure("push");
      throw err;
    });
  }

  /** `$SYS.REQ.CLAIMS.DELETE` (needs `allow_delete: true`): the number of resolvers that deleted. */
  async delete(accounts: string[]): Promise<number> {
    const token = deleteAccountsJwt(accounts, this.operatorSigner);
    return this.fanOut("$SYS.REQ.CLAIMS.DELETE", token, "delete the account JWT").catch((err: unknown) => {
      this.onFailure("delete");
      throw err;
    });
  }

  /** The account JWT a resolver serves, or null. */
  async lookup(account: string): Promise<string | null> {
    try {
      const m = await this.sys.request(`$SYS.REQ.ACCOUNT.${account}.CLAIMS.LOOKUP`, "", { timeout: this.timeoutMs });
      const text = m.string();
      return text.startsWith("eyJ") ? text : null;
    } catch {
      return null;
    }
  }

  /**
   * `$SYS.REQ.CLAIMS.LIST`: the accounts each answering resolver holds, one set per server (a
   * server that does not answer within the timeout is missing from the list).
   */
  async listClaims(): Promise<Set<string>[]> {
    const out: Set<string>[] = [];
    await this.#eachList((ids) => out.push(new Set(ids)));
    return out;
  }

  /**
   * The accounts the answering resolvers hold, each with how many hold it, how many answered (a
   * server that does not answer in time is not counted) and when the slowest of those did: one map
   * however many servers, where a set per server would hold each id once per server.
   */
  async claimCounts(): Promise<{ lists: number; held: Map<string, number>; slowestMs: number }> {
    const held = new Map<string, number>();
    const { lists, slowestMs } = await this.#eachList((ids) => {
      for (const id of ids) held.set(id, (held.get(id) ?? 0) + 1);
    });
    return { lists, held, slowestMs };
  }

  /**
   * Asks every resolver for its list; `each` is given each answer's ids. Returns how many answered
   * and when the last of them did (ms after asking): what listing cost the servers, without the
   * wait for one that never answered.
   */
  async #eachList(each: (ids: string[]) => void): Promise<{ lists: number; slowestMs: number }> {
    const started = performance.now();
    let slowestMs = 0;
    const lists = await this.#gather(this.lists, "$SYS.REQ.CLAIMS.LIST", "", LIST_TIMEOUT_MS, (firstMs) => Math.max(ACK_SPREAD_MS, firstMs), (m) => {
      slowestMs = performance.now() - started;
      try {
        const ids = (m.json<{ data?: unknown }>().data ?? []) as unknown[];
        each(ids.filter((id): id is string => typeof id === "string"));
        return true;
      } catch {
        return false;
      }
    });
    return { lists, slowestMs };
  }

  /** The number of servers answering `$SYS.REQ.SERVER.PING` (see ResponderCount): a push never waits for a PING but the first. */
  serverCount(fresh = false): Promise<number> {
    return this.#servers.get(fresh);
  }

  /**
   * Publishes once and gathers the resolvers' acks: a resolver that refuses fails the call; none
   * answering is a 503.
   */
  private async fanOut(subject: string, body: string, what: string): Promise<number> {
    const replies: string[] = [];
    const count = await this.#gather(this.sys, subject, body, this.timeoutMs, () => ACK_SPREAD_MS, (m) => {
      replies.push(m.string());
      return true;
    });
    if (count === 0) throw new UnavailableError(`the resolver did not answer (${what}); retry`);
    const refusal = replies.map(readReply).find((o) => o !== "ok");
    if (refusal !== undefined) throw new InternalError(`the resolver refused to ${what}: ${refusal}`);
    return count;
  }

  /**
   * Publishes once on `nc` and hands each server's reply to `take` on one inbox: up to `firstMs`
   * for the first, then `restMs(ms the first took)` for the others, so that a dead node holds the
   * caller that long and not the whole wait. Done early once every counted server answered; fewer
   * answers than servers (a server left, or one joined since the count) takes the count again.
   * Returns how many replies `take` accepted.
   */
  async #gather(nc: NatsConnection, subject: string, body: string, firstMs: number, restMs: (firstTookMs: number) => number, take: (m: Msg) => boolean): Promise<number> {
    const expected = Math.max(1, await this.serverCount());
    const started = performance.now();
    let replies = 0;
    let taken = 0;
    await new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = () => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve();
      };
      const sub = nc.subscribe(createInbox(), {
        max: expected,
        callback: (err, m) => {
          if (err) return finish();
          if (take(m)) taken++;
          if (++replies === 1) {
            clearTimeout(timer);
            timer = setTimeout(finish, restMs(performance.now() - started));
          }
          if (replies >= expected) finish();
        },
      });
      timer = setTimeout(finish, firstMs);
      nc.publish(subject, body, { reply: sub.getSubject() });
    });
    if (replies !== expected) void this.#servers.refresh();
    return taken;
  }
}

/** "ok" for a resolver's 200, else what it said. */
function readReply(text: string): string {
  let reply: ResolverReply;
  try {
    reply = JSON.parse(text) as ResolverReply;
  } catch {
    return "an unreadable reply";
  }
  if (reply.data?.code === 200) return "ok";
  return reply.error?.description ?? reply.data?.message ?? "no detail";
}
