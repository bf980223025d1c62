import type { NatsConnection } from "@nats-io/nats-core";
import type { Service, ServiceMsg } from "@nats-io/services";
import {
  authorizationResponseJwt,
  type AuthorizationResult,
  NKeyPair,
  type SecretMac,
  type SeedVault,
  userJwt,
  type XKey,
} from "../identity/index.ts";
import type { InFlight } from "../runtime/in-flight.ts";
import type { Logger } from "../runtime/log.ts";
import type { AuthMethod, AuthResult, Observe } from "../observe/index.ts";
import { AdmissionGate } from "../revocation/index.ts";
import { Store, type StoreViews } from "../store/index.ts";
import { decide, type Facts, type Grant, identityOf, nonceSignatureValid, type Presented, presented } from "./decide.ts";
import { type AuthorizationRequest, InvalidRequestError, openRequest, SERVER_XKEY_HEADER } from "./request.ts";
import { ServerKeys } from "./server-keys.ts";
import { DenialLog } from "./denial-log.ts";
import { CALLOUT_SUBJECT } from "../contract/subjects.ts";
import { isAccessKey, isUserPublicKey } from "../contract/validation.ts";

/** The queue group instances answer it in (the micro service's default). */
export const CALLOUT_QUEUE = "q";

/** What the responder needs of a request: a micro service message, or a core one made to answer like it (see standby.ts). */
export type CalloutMsg = Pick<ServiceMsg, "data" | "headers" | "respond" | "respondError"> & {
  /** Sends an admitting response to the server `requester` (its `server_id.id`); `respond` where absent. */
  admit?: (data: Uint8Array | string, requester: string) => void;
};

/** Where an admitting response's copy goes (see `echoed`). */
export interface Echo {
  /** The connection the request came in on. */
  from: NatsConnection;
  /** The instance's other connection, to another server. */
  to: () => NatsConnection | undefined;
}

export interface CalloutDeps {
  vault: SeedVault;
  log: Logger;
  /** MNQ: the callout account; its signing key signs every response and the admin key's users. */
  mnqAccount: string;
  mnqSigner: NKeyPair;
  xkey: XKey;
  /** Requests arrive sealed to `xkey` (the MNQ account names it). */
  sealed: boolean;
  sessionTtlSeconds: number;
  /** Where the lookups read: views fed by KV watches, shared with the API. */
  views: StoreViews;
  /** Whom this instance admitted lately and whom deletes fenced off (see revocation/). */
  gate: AdmissionGate;
  /** Counts every answer (metrics, `$SRV.STATS`). */
  observe?: Observe;
  /** Checks API secrets stored as HMACs (see SecretMac). */
  secrets: SecretMac;
}

/**
 * How long a server may act on a response: until its request's expiry (its auth_timeout, rounded
 * down to seconds, so one more second), never less than the default auth_timeout (the clocks of
 * server and instance may differ), never more than MAX_PENDING_MS whatever a request claims.
 */
const EXPIRY_ROUNDING_MS = 1000;
const DEFAULT_AUTH_TIMEOUT_MS = 2000;
const MAX_PENDING_MS = 10_000;

/**
 * Adds the auth callout to the `mnq` micro service: an endpoint on `$SYS.REQ.USER.AUTH` in the
 * service's queue group, so instances share the requests; each request is handled concurrently.
 */
export function addCalloutEndpoint(svc: Service, deps: CalloutDeps, inFlight: InFlight, echo?: Echo): CalloutResponder {
  const responder = new CalloutResponder(deps);
  svc.addEndpoint(CALLOUT_ENDPOINT, {
    subject: CALLOUT_SUBJECT,
    metadata: {
      description: "nats-server auth callout: API keys and credential nkeys",
      // the request is an authorization_request JWT (sealed to the service xkey when configured);
      // the reply an authorization_response JWT
      request_schema: "urn:mnq:callout:authorization-request",
      response_schema: "urn:mnq:callout:authorization-response",
    },
    handler: (err, msg) => {
      if (err) return;
      inFlight.run(() => responder.handle(echoed(msg, echo)));
    },
  });
  return responder;
}

/**
 * `msg` whose admitting response is also published on `echo.to()`'s connection (to another server):
 * a response crossing a node as it dies is lost, and the client refused after auth_timeout. When
 * either connection is on the asking server, the response goes through that one alone: it then
 * crosses no other node, and a second copy would reach the server while it still handles the
 * first (a login into an account new to it takes that long), so it would build the account again,
 * under its lock, and register the client twice.
 */
export function echoed(msg: CalloutMsg & { reply?: string }, echo?: Echo): CalloutMsg {
  if (!echo) return msg;
  return {
    data: msg.data,
    headers: msg.headers,
    respondError: (code, description, data) => msg.respondError(code, description, data),
    respond: (data) => msg.respond(data),
    admit: (data, requester) => {
      if (echo.from.info?.server_id === requester) {
        msg.respond(data);
        return;
      }
      const other = echo.to();
      const reply = msg.reply;
      const copy = other && reply && !other.isClosed() ? { server: other.info?.server_id, send: () => publishes(other, reply, data) } : undefined;
      if (copy?.server === requester && copy.send()) return;
      msg.respond(data);
      // the copy on the first connection is the answer; this one only covers its loss
      copy?.send();
    },
  };
}

/** Publishes, false when the connection refuses (closed under it). */
function publishes(nc: NatsConnection, subject: string, data: Uint8Array | string): boolean {
  try {
    nc.publish(subject, data);
    return true;
  } catch {
    return false;
  }
}

/** The micro endpoint's name (`nats micro info mnq`). */
export const CALLOUT_ENDPOINT = "auth-callout";

/** Opens, checks, decides and answers authorization requests. */
export class CalloutResponder {
  /** Sources (client addresses) whose API key checks cost scrypt and failed too often. */
  readonly #denials: DenialLog;
  readonly #views: StoreViews;
  readonly #serverKeys = new ServerKeys();

  constructor(private readonly deps: CalloutDeps) {
    this.#denials = new DenialLog(deps.log);
    this.#views = deps.views;
  }

  async handle(msg: CalloutMsg): Promise<void> {
    const started = performance.now();
    let method: AuthMethod = "none";
    const observe = this.deps.observe;
    // Counted after the answer has left: the answer's write to the socket is a microtask queued
    // when it was sent, so a count queued after it never delays it.
    const done = (result: AuthResult, code?: number, description?: string) => {
      if (!observe) return;
      const seconds = (performance.now() - started) / 1000;
      queueMicrotask(() => {
        observe.metrics.auth(method, result, seconds);
        observe.stats.record(CALLOUT_ENDPOINT, started, code === undefined ? undefined : { code, description: description ?? "" });
      });
    };
    const now = Date.now();
    const nowSec = Math.floor(now / 1000);
    const opened = this.#open(msg, nowSec);
    if (!opened) {
      // not a genuine request of a server: nothing to sign an answer for
      msg.respondError(400, "invalid authorization request");
      done("error", 400, "invalid authorization request");
      return;
    }
    const { req, serverXkey } = opened;
    const userNkey = req.nats.user_nkey;
    const who = presented(req);
    method = who.kind;
    const log = () => this.deps.log.child({ user_nkey: userNkey, client: req.nats.client_info.host, server: req.nats.server_id.name });
    const fail = (err: unknown) => {
      log().error({ err: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, "auth callout: failed");
      this.answer(msg, req, serverXkey, { error: "authorization service unavailable" }, 503);
      done("error", 503, "authorization service unavailable");
    };
    let facts: Facts;
    try {
      facts = await this.#facts(req, who, now, nowSec);
    } catch (err) {
      fail(err);
      return;
    }
    // From the decision to the reply nothing awaits: a delete's fence either came first (decide
    // refuses) or learns of this grant, recorded right before the reply (and looks for its connection).
    const gate = this.deps.gate;
    const decision = decide({ ...facts, fenced: (id) => gate.blocked(id) });
    if (decision.kind === "deny") {
      this.#denials.denied(sourceOf(req), { identity: identityOf(who), reason: decision.reason, server: req.nats.server_id.name });
      this.answer(msg, req, serverXkey, { error: decision.reason }, 401);
      done("denied", 401, decision.reason);
      return;
    }
    const { grant } = decision;
    let response: string | Uint8Array;
    try {
      response = this.response(req, serverXkey, { jwt: this.userJwtFor(grant, userNkey) });
    } catch (err) {
      fail(err); // e.g. an account seed that does not open: a 503, never the end of the process
      return;
    }
    const sent = Date.now();
    const actedOnUntil = sent + Math.min(MAX_PENDING_MS, Math.max(DEFAULT_AUTH_TIMEOUT_MS, req.exp * 1000 - sent) + EXPIRY_ROUNDING_MS);
    gate.granted(grant.owner, actedOnUntil, sent);
    gate.granted(grant.accountId, actedOnUntil, sent);
    if (this.deps.log.isLevelEnabled("debug")) log().debug({ identity: identityOf(who), account: grant.accountId }, "auth callout: allowed");
    if (msg.admit) msg.admit(response, req.nats.server_id.id);
    else msg.respond(response);
    done("allowed");
  }

  /** The request opened and checked, or undefined (logged) when it is not a genuine server's. */
  #open(msg: CalloutMsg, nowSec: number): { req: AuthorizationRequest; serverXkey: string | null } | undefined {
    try {
      const { claims, serverXkey } = openRequest(msg.data, msg.headers?.get(SERVER_XKEY_HEADER), {
        xkey: this.deps.xkey,
        sealed: this.deps.sealed,
        nowSec,
        serverKeys: this.#serverKeys,
      });
      return { req: claims, serverXkey };
    } catch (err) {
      const reason = err instanceof InvalidRequestError ? err.message : "request could not be read";
      this.deps.log.warn({ reason }, "auth callout: request rejected");
      return undefined;
    }
  }

  /** Looks up what the presented identity needs (what `decide` reads). */
  async #facts(req: AuthorizationRequest, who: Presented, now: number, nowSec: number): Promise<Facts> {
    const facts: Facts = {
      request: req,
      presented: who,
      nowSec,
      sessionTtlSeconds: this.deps.sessionTtlSeconds,
      mnqAccount: this.deps.mnqAccount,
    };
    if (who.kind === "api_key") facts.apiKey = await this.lookupApiKey(who);
    if (who.kind === "nkey") facts.credential = await this.lookupCredential(who);
    return facts;
  }

  /**
   * The key, its secret checked (one HMAC: a wrong secret costs microseconds, so there is nothing to
   * throttle and nobody is refused for someone else's failures). One read: the key's record names
   * its own account and carries what signing needs of it.
   */
  private async lookupApiKey(who: Extract<Presented, { kind: "api_key" }>): Promise<Facts["apiKey"]> {
    // a user name that is no access key is no key: no read (nor a pattern made of what a client sent)
    if (!isAccessKey(who.accessKey)) return { record: null, secretValid: false };
    const record = await this.#views.apiKeys.readWithin(Store.apiKeyPattern(who.accessKey));
    return { record, secretValid: record !== null && this.deps.secrets.matches(who.secret, record.secret_hash) };
  }

  /**
   * The credential's index entry and account. The read of a key not held begins before the nonce's
   * signature is checked, so that the two overlap: a connect of a credential not held waits for
   * one round trip to KV, not for a round trip after a signature check. A key that is no user key
   * is not read (nor turned into a subject).
   */
  private async lookupCredential(who: Extract<Presented, { kind: "nkey" }>): Promise<Facts["credential"]> {
    const refused = { signatureValid: false, index: null, account: null };
    if (!isUserPublicKey(who.nkey)) return refused;
    const views = this.#views;
    const reading = views.credentialKeys.readWithin(who.nkey);
    // the client sends what it was given from a microtask: one turn lets the read leave before the check
    await Promise.resolve();
    if (!nonceSignatureValid(who)) {
      reading.catch(() => undefined);
      return refused;
    }
    const index = await reading;
    const account = index ? await views.accounts.readWithin(Store.accountKey(index.project_id, index.nats_account_id)) : null;
    return { signatureValid: true, index, account };
  }

  private userJwtFor(grant: Grant, userNkey: string): string {
    const signer = grant.account === "mnq" ? this.deps.mnqSigner : this.deps.vault.signer(grant.account.signing_seed, grant.account.id, "account");
    return userJwt({ name: grant.name, user: userNkey, account: grant.accountId, permissions: grant.permissions, exp: grant.exp }, signer);
  }

  /** Signs the response for the requesting server, sealed back when the request was sealed. */
  private response(req: AuthorizationRequest, serverXkey: string | null, result: AuthorizationResult): string | Uint8Array {
    const token = authorizationResponseJwt(req.nats.user_nkey, req.nats.server_id.id, result, this.deps.mnqSigner, this.deps.mnqAccount);
    return serverXkey ? this.deps.xkey.seal(new TextEncoder().encode(token), serverXkey) : token;
  }

  private answer(msg: CalloutMsg, req: AuthorizationRequest, serverXkey: string | null, result: AuthorizationResult, errorCode: number): void {
    msg.respondError(errorCode, "error" in result ? result.error : "denied", this.response(req, serverXkey, result));
  }
}

/** Where a connect comes from, as its server saw it: what throttling and denial logs count by. */
function sourceOf(req: AuthorizationRequest): string {
  return req.nats.client_info.host ?? "unknown";
}
