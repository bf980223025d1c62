import type { NatsConnection } from "@nats-io/nats-core";
import { UnavailableError } from "../contract/errors.ts";
import type { AccountLimits } from "../identity/index.ts";

/** docs/api.md AccountUsage. */
export interface AccountUsage {
  nats_account_id: string;
  storage: { used_bytes: number; quota_bytes: number; reserved_bytes: number };
  memory: { used_bytes: number; quota_bytes: number };
  streams: number;
  consumers: number;
  connections: number;
}

interface StreamDetail {
  name: string;
  config?: { max_bytes?: number; num_replicas?: number; storage?: "file" | "memory" };
  state?: { consumer_count?: number };
}

/** The account part of a server's JSZ reply (`$SYS.REQ.ACCOUNT.<id>.JSZ` or the account_details of PING.JSZ). */
export interface AccountJsz {
  id: string;
  memory?: number;
  storage?: number;
  stream_detail?: StreamDetail[];
}

/** How long to wait for more servers once replies stop coming (every server of a cluster answers). */
const STALL_MS = 75;

/** Every reply to a `$SYS` request that all servers answer, parsed; servers that fail to parse are skipped. */
async function askAllServers<T>(sys: NatsConnection, subject: string, body: unknown, timeoutMs: number): Promise<T[]> {
  const out: T[] = [];
  try {
    const replies = await sys.requestMany(subject, JSON.stringify(body), { strategy: "stall", stall: STALL_MS, maxWait: timeoutMs });
    for await (const m of replies) {
      try {
        out.push(m.json<T>());
      } catch {
        // a reply that is not JSON says nothing about usage
      }
    }
  } catch (err) {
    throw new UnavailableError("the NATS servers did not report usage; retry", { cause: err });
  }
  if (out.length === 0) throw new UnavailableError("no NATS server reported usage; retry");
  return out;
}

/**
 * Merges the servers' views of one account: each server reports the account's total usage as it
 * tracks it (replicas counted), so the largest is the freshest; streams are listed by the servers
 * that host them, so they are merged by name. Reserved bytes are what stream `max_bytes` reserve,
 * times their replicas (what the server checks at stream creation).
 */
export function mergeJsz(id: string, views: AccountJsz[]): Omit<AccountUsage, "connections" | "storage" | "memory"> & {
  storageUsed: number;
  memoryUsed: number;
  storageReserved: number;
} {
  const streams = new Map<string, StreamDetail>();
  let storageUsed = 0;
  let memoryUsed = 0;
  for (const v of views) {
    storageUsed = Math.max(storageUsed, v.storage ?? 0);
    memoryUsed = Math.max(memoryUsed, v.memory ?? 0);
    for (const s of v.stream_detail ?? []) if (!streams.has(s.name)) streams.set(s.name, s);
  }
  let storageReserved = 0;
  let consumers = 0;
  for (const s of streams.values()) {
    const max = s.config?.max_bytes ?? -1;
    if (max > 0 && s.config?.storage !== "memory") storageReserved += max * (s.config?.num_replicas ?? 1);
    consumers += s.state?.consumer_count ?? 0;
  }
  return { nats_account_id: id, storageUsed, memoryUsed, storageReserved, streams: streams.size, consumers };
}

/**
 * Reads an account's usage live from every server (JSZ for JetStream, CONNZ for connections,
 * summed over servers) and puts it beside the quota of its JWT limits. The `PING` forms are used
 * because every server answers them: `$SYS.REQ.ACCOUNT.<id>.CONNS` gets no answer at all, and
 * `.JSZ` an "account not found" error, from a server where the account has no connection yet.
 */
export async function readAccountUsage(sys: NatsConnection, accountId: string, limits: AccountLimits, timeoutMs: number): Promise<AccountUsage> {
  const [jsz, connz] = await Promise.all([
    askAllServers<{ data?: { account_details?: AccountJsz[] } }>(
      sys,
      "$SYS.REQ.SERVER.PING.JSZ",
      // limit 1: a server without the account lists a page of others instead (the first, then dropped)
      { account: accountId, accounts: true, streams: true, config: true, limit: 1 },
      timeoutMs,
    ),
    askAllServers<{ data?: { total?: number } }>(sys, "$SYS.REQ.SERVER.PING.CONNZ", { acc: accountId, limit: 1 }, timeoutMs),
  ]);
  const merged = mergeJsz(
    accountId,
    jsz.flatMap((r) => (r.data?.account_details ?? []).filter((a) => a.id === accountId)),
  );
  return {
    nats_account_id: accountId,
    storage: { used_bytes: merged.storageUsed, quota_bytes: limits.disk_storage, reserved_bytes: merged.storageReserved },
    memory: { used_bytes: merged.memoryUsed, quota_bytes: limits.mem_storage },
    streams: merged.streams,
    consumers: merged.consumers,
    connections: connz.reduce((n, r) => n + (r.data?.total ?? 0), 0),
  };
}

/**
 * Accounts per JSZ reply: what a server lists when a request names no limit. A server lists its
 * accounts sorted by name, one page per request, so a walk asks page after page until every
 * server's `total` is passed.
 */
const JSZ_PAGE = 1024;

/**
 * Storage used by every account with JetStream, largest view per account: PING.JSZ to all servers,
 * a page of `pageSize` accounts at a time (a server lists at most a page per reply). `pace` is
 * awaited between two pages. An account made or removed during the walk may shift the pages by
 * one: it is seen at the next walk.
 */
export async function readAllStorage(sys: NatsConnection, timeoutMs: number, opts: { pageSize?: number; pace?: () => Promise<void> } = {}): Promise<Map<string, number>> {
  const limit = opts.pageSize ?? JSZ_PAGE;
  const used = new Map<string, number>();
  for (let offset = 0; ; offset += limit) {
    const replies = await askAllServers<{ data?: { total?: number; account_details?: AccountJsz[] } }>(
      sys,
      "$SYS.REQ.SERVER.PING.JSZ",
      { accounts: true, offset, limit },
      timeoutMs,
    );
    let listed = 0;
    for (const r of replies) {
      for (const a of r.data?.account_details ?? []) {
        used.set(a.id, Math.max(used.get(a.id) ?? 0, a.storage ?? 0));
        listed++;
      }
    }
    // the last page: every server's list ends here (or none listed anything more)
    if (listed === 0 || !replies.some((r) => (r.data?.total ?? 0) > offset + limit)) return used;
    await opts.pace?.();
  }
}
