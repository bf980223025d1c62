import type { NatsConnection } from "@nats-io/nats-core";

/** One client connection of one server. */
export interface ConnectionRef {
  server: string;
  cid: number;
}

interface ConnzReply {
  server?: { id?: string };
  data?: { connections?: { cid: number; authorized_user?: string }[] };
}

/** Connections per server and page of CONNZ. */
const PAGE = 1024;
/** Kicks on their way at once. */
const KICKS_IN_FLIGHT = 128;
/** Find-and-kick rounds of one `close`: each round reads every server's table again. */
const MAX_ROUNDS = 8;
/** Pages of one server's table read in one round (64 × 1024 connections). */
const MAX_PAGES = 64;
/** How long CONNZ waits for every server: a dead node must not hold a delete for the whole timeout. */
const CONNZ_WAIT_MS = 2000;

/**
 * The servers' own connection table, read and acted on as the system user: CONNZ (with `auth`,
 * filtered by account and by the name the auth callout gave a user) finds connections, KICK
 * closes them. Nothing about a connection is stored anywhere else.
 */
export class ConnectionTable {
  constructor(
    private readonly sys: NatsConnection,
    private readonly servers: { serverCount(): Promise<number> },
    private readonly timeoutMs: number,
  ) {}

  /**
   * The connections in `account` whose authorized user is one of `names` (the user JWT names the
   * callout issued), on every server that answers; each server's table is read page by page.
   */
  async find(account: string, names: ReadonlySet<string>): Promise<ConnectionRef[]> {
    const expected = Math.max(1, await this.servers.serverCount());
    // One name: let the servers filter; several: take the account's connections and pick.
    const only = names.size === 1 ? [...names][0] : undefined;
    const filter = { acc: account, user: only, auth: true, limit: PAGE };
    const found: ConnectionRef[] = [];
    const pick = (server: string, page: ConnzReply["data"]) => {
      for (const c of page?.connections ?? []) {
        if (c.authorized_user !== undefined && names.has(c.authorized_user)) found.push({ server, cid: c.cid });
      }
    };
    const more: Promise<void>[] = [];
    const replies = await this.sys.requestMany("$SYS.REQ.SERVER.PING.CONNZ", JSON.stringify(filter), {
      strategy: "count",
      maxMessages: expected,
      maxWait: Math.min(this.timeoutMs, CONNZ_WAIT_MS),
    });
    for await (const m of replies) {
      const reply = readConnz(m.data);
      const server = reply?.server?.id;
      if (!server) continue;
      pick(server, reply.data);
      more.push(this.#restOf(server, filter, reply.data, pick));
    }
    await Promise.all(more);
    return found;
  }

  /** The pages after the first of one server's CONNZ answer. */
  async #restOf(server: string, filter: object, first: ConnzReply["data"], pick: (server: string, page: ConnzReply["data"]) => void): Promise<void> {
    // A full page may have more behind it (the servers' `total` counts before filtering).
    let offset = first?.connections?.length ?? 0;
    for (let pages = 1; offset > 0 && offset % PAGE === 0 && pages < MAX_PAGES; pages++) {
      const m = await this.sys.request(`$SYS.REQ.SERVER.${server}.CONNZ`, JSON.stringify({ ...filter, offset }), { timeout: this.timeoutMs }).catch(() => null);
      const page = m ? readConnz(m.data)?.data : undefined;
      const n = page?.connections?.length ?? 0;
      pick(server, page);
      if (n < PAGE) return;
      offset += n;
    }
  }

  /** Closes the connections (KICK on their servers); one already gone is fine. */
  async kick(refs: readonly ConnectionRef[]): Promise<void> {
    for (let i = 0; i < refs.length; i += KICKS_IN_FLIGHT) {
      await Promise.all(
        refs.slice(i, i + KICKS_IN_FLIGHT).map((r) =>
          this.sys.request(`$SYS.REQ.SERVER.${r.server}.KICK`, JSON.stringify({ cid: r.cid }), { timeout: this.timeoutMs }).catch(() => undefined),
        ),
      );
    }
  }

  /** Finds and kicks until none is left (bounded rounds); returns how many were kicked. */
  async close(account: string, names: ReadonlySet<string>): Promise<number> {
    let kicked = 0;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const found = await this.find(account, names);
      if (found.length === 0) break;
      await this.kick(found);
      kicked += found.length;
    }
    return kicked;
  }
}

function readConnz(data: Uint8Array): ConnzReply | null {
  try {
    return JSON.parse(new TextDecoder().decode(data)) as ConnzReply;
  } catch {
    return null;
  }
}
