import { headers, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import type { InFlight } from "../runtime/in-flight.ts";
import type { Logger } from "../runtime/log.ts";
import { type AdmissionGate, serveFence } from "../revocation/index.ts";
import { CALLOUT_SUBJECT } from "../contract/subjects.ts";
import { CALLOUT_QUEUE, type CalloutMsg, type CalloutResponder, echoed } from "./responder.ts";

/** How often the standby checks that it is not on its primary's server. */
const CHECK_MS = 3000;

export interface StandbyOptions {
  /** Every server URL the instance was given. */
  servers: string[];
  /** The instance's own connection (the micro service, the views). */
  primary: NatsConnection;
  /** Connects as the service user to `servers` (TLS and credentials as the primary's). */
  connect: (servers: string[]) => Promise<NatsConnection>;
  responder: CalloutResponder;
  gate: AdmissionGate;
  inFlight: InFlight;
  /** The instance's id (fence replies name it, so an instance answering twice counts once). */
  instance: string;
  log: Logger;
}

/**
 * A second connection, to another server than the instance's own, that also answers the auth
 * callout and the fence with the same responder and gate. The servers ask the callout through a
 * queue group and refuse the client at once when no member is subscribed, so an instance whose
 * server dies would leave a gap until it reconnects, and two instances on the same server would
 * leave none at all: with a standby on another server, the loss of any one node leaves every
 * instance subscribed. When both connections come to share a server (after a failover), the
 * standby moves.
 */
export class StandbyCallout {
  #nc: NatsConnection | undefined;
  #subs: Subscription[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #moving = false;
  #stopped = false;

  private constructor(private readonly opts: StandbyOptions) {}

  /** Starts the standby; undefined when there is no other server to put it on. */
  static async start(opts: StandbyOptions): Promise<StandbyCallout | undefined> {
    if (otherServers(opts.servers, opts.primary).length === 0) return undefined;
    const standby = new StandbyCallout(opts);
    await standby.#open();
    standby.#timer = setInterval(() => void standby.#check(), CHECK_MS);
    standby.#timer.unref();
    return standby;
  }

  /** The standby's connection now (the primary's responses are echoed on it). */
  get connection(): NatsConnection | undefined {
    return this.#nc;
  }

  async #open(): Promise<void> {
    const nc = await this.opts.connect(otherServers(this.opts.servers, this.opts.primary));
    const { responder, inFlight } = this.opts;
    const callout = nc.subscribe(CALLOUT_SUBJECT, {
      queue: CALLOUT_QUEUE,
      callback: (err, msg) => {
        if (err) return;
        inFlight.run(() => responder.handle(echoed(asCalloutMsg(msg), { from: nc, to: () => this.opts.primary })));
      },
    });
    const fence = serveFence(nc, this.opts.gate, this.opts.log, this.opts.instance);
    await nc.flush();
    this.#nc = nc;
    this.#subs = [callout, fence];
  }

  /** Moves the standby when it shares a server with the primary (and there is another). */
  async #check(): Promise<void> {
    const nc = this.#nc;
    if (this.#moving || this.#stopped || !nc) return;
    const primary = this.opts.primary.info?.server_id;
    if (!primary || nc.info?.server_id !== primary || otherServers(this.opts.servers, this.opts.primary).length === 0) return;
    this.#moving = true;
    try {
      // the new one first: the instance is never without a second subscription
      const old = { nc, subs: this.#subs };
      await this.#open();
      for (const s of old.subs) s.unsubscribe();
      await old.nc.drain().catch(() => undefined);
      this.opts.log.info({ server: this.#nc?.getServer() }, "callout standby moved off the instance's server");
    } catch (err) {
      this.opts.log.warn({ err: String(err) }, "callout standby could not move; it tries again");
    } finally {
      this.#moving = false;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const s of this.#subs) s.unsubscribe();
    await this.#nc?.drain().catch(() => undefined);
  }
}

/** The servers other than the one `primary` is connected to now. */
function otherServers(servers: string[], primary: NatsConnection): string[] {
  const current = primary.getServer();
  return servers.filter((s) => hostPort(s) !== hostPort(current));
}

function hostPort(url: string): string {
  return url.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");
}

/** A core message answered as the micro service answers (error replies carry its headers, so stats and callers read them alike). */
function asCalloutMsg(m: Msg): CalloutMsg & { reply?: string } {
  return {
    reply: m.reply,
    data: m.data,
    headers: m.headers,
    respond: (data) => m.respond(data),
    respondError: (code, description, data) => {
      const h = headers();
      h.set("Nats-Service-Error", description);
      h.set("Nats-Service-Error-Code", String(code));
      return m.respond(data, { headers: h });
    },
  };
}
