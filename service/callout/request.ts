import { decodeJwt, JwtError, type XKey } from "../identity/index.ts";
import { validator } from "../contract/validation.ts";
import type { ServerKeys } from "./server-keys.ts";

/** The audience of every authorization request a nats-server sends. */
export const REQUEST_AUDIENCE = "nats-authorization-request";
/** Header carrying the sending server's curve key when the request is sealed. */
export const SERVER_XKEY_HEADER = "Nats-Server-Xkey";
/** Larger than any request a server sends (a CONNECT fits in max_control_line). */
const MAX_AUTH_REQUEST_BYTES = 64 * 1024;

/** The claims mnq reads from an authorization request (schemas/callout/authorization-request.json). */
export interface AuthorizationRequest {
  iss: string;
  aud: string;
  exp: number;
  nats: {
    type: "authorization_request";
    server_id: { id: string; name?: string; xkey?: string };
    user_nkey: string;
    client_info: { host?: string; id?: number; nonce?: string };
    connect_opts: { user?: string; pass?: string; nkey?: string; sig?: string; jwt?: string; name?: string };
  };
}

/** A request that is not a genuine, current request of a server: it gets no authorization. */
export class InvalidRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidRequestError";
  }
}

export interface OpenedRequest {
  claims: AuthorizationRequest;
  /** The server's curve key when the request was sealed: the response is sealed back to it. */
  serverXkey: string | null;
}

export interface OpenOptions {
  xkey: XKey;
  /** The callout account names an xkey, so genuine requests arrive sealed. */
  sealed: boolean;
  nowSec: number;
  /** Curve keys of servers whose requests verified (sealed requests under them skip the signature). */
  serverKeys?: ServerKeys;
}

const validRequest = validator("urn:mnq:callout:authorization-request");
const td = new TextDecoder("utf-8", { fatal: true });

/**
 * Opens and checks a callout request in callout.go's order: size; sealed exactly when the account
 * says so, and opening with the service xkey; a JWT whose signature verifies against its issuer
 * (or, sealed under a curve key pinned to that issuer, see ServerKeys); the shape; issuer =
 * `server_id.id`; audience; not expired. Throws InvalidRequestError.
 */
export function openRequest(data: Uint8Array, headerXkey: string | undefined, opts: OpenOptions): OpenedRequest {
  if (data.length === 0 || data.length > MAX_AUTH_REQUEST_BYTES) throw new InvalidRequestError("request size out of range");
  let token: Uint8Array = data;
  const serverXkey = headerXkey || null;
  if (opts.sealed && !serverXkey) throw new InvalidRequestError("request not sealed, but the callout requires it");
  if (!opts.sealed && serverXkey) throw new InvalidRequestError("request sealed, but the callout has no xkey");
  if (serverXkey) {
    const opened = opts.xkey.open(data, serverXkey);
    if (!opened) throw new InvalidRequestError("request does not open with the service xkey");
    token = opened;
  }
  const pinnedTo = serverXkey ? opts.serverKeys?.serverOf(serverXkey) : undefined;
  let claims: unknown;
  try {
    claims = decodeJwt(td.decode(token), { authenticated: (c) => pinnedTo !== undefined && c.iss === pinnedTo });
  } catch (err) {
    throw new InvalidRequestError(err instanceof JwtError ? err.message : "request is not a JWT");
  }
  if (!validRequest(claims)) throw new InvalidRequestError("request claims are malformed");
  const req = claims as AuthorizationRequest;
  if (req.iss !== req.nats.server_id.id) throw new InvalidRequestError("request not issued by the server it names");
  if (req.aud !== REQUEST_AUDIENCE) throw new InvalidRequestError("request has the wrong audience");
  if (req.exp < opts.nowSec) throw new InvalidRequestError("request expired");
  if (serverXkey && req.nats.server_id.xkey && req.nats.server_id.xkey !== serverXkey) {
    throw new InvalidRequestError("request sealed by another server's key");
  }
  // Verified in full, and the signed claims name the curve key it was sealed with: pin it.
  if (serverXkey && pinnedTo === undefined && req.nats.server_id.xkey === serverXkey) opts.serverKeys?.pin(serverXkey, req.iss);
  return { claims: req, serverXkey };
}
