import { createHash } from "node:crypto";
import type { ClaimsData } from "@nats-io/jwt";
import { type NKeyPair, verifySignature } from "./keys.ts";

const HEADER = Buffer.from(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" })).toString("base64url");

/** The claims mnq puts in a JWT before signing; `iss`, `jti` and `iat` are filled in by `encodeJwt`. */
export type UnsignedClaims<T> = Omit<ClaimsData<T>, "iss" | "jti" | "iat"> & { iat?: number };

/**
 * Encodes and signs NATS v2 claims. Unlike jwt.js's encoder this takes `iat` from the caller:
 * resolvers keep the account JWT with the newer `iat` (seconds), so updates of one account
 * must carry strictly increasing values.
 */
export function encodeJwt<T>(claims: UnsignedClaims<T>, signer: NKeyPair): string {
  const body: Record<string, unknown> = {
    ...claims,
    iat: claims.iat ?? Math.floor(Date.now() / 1000),
    iss: signer.getPublicKey(),
    nats: { ...claims.nats, version: 2 },
  };
  // jti as nats-io/jwt (Go) computes it: base32 of the SHA-256 of the claims without jti. It goes
  // last, so the JSON is made once and jti spliced in before its closing brace.
  const json = JSON.stringify(body);
  const jti = base32(createHash("sha256").update(json).digest());
  const payload = `${HEADER}.${Buffer.from(`${json.slice(0, -1)},"jti":"${jti}"}`).toString("base64url")}`;
  const sig = Buffer.from(signer.sign(Buffer.from(payload, "latin1"))).toString("base64url");
  return `${payload}.${sig}`;
}

export class JwtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwtError";
  }
}

export interface DecodeOptions<T> {
  /**
   * True when the caller already knows the claims come from their issuer by other means (the
   * callout: a box only that issuer's server can have sealed): the signature is not checked then.
   */
  authenticated?: (claims: ClaimsData<T>) => boolean;
}

/**
 * Decodes a NATS JWT and verifies its signature against its `iss` (unless `authenticated` says
 * the caller has proof of origin already). Throws JwtError for anything malformed or unsigned;
 * checks no dates (callers decide).
 */
export function decodeJwt<T>(token: string, opts: DecodeOptions<T> = {}): ClaimsData<T> {
  if (typeof token !== "string") throw new JwtError("not a JWT");
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtError("not a JWT");
  const [h, b, s] = parts as [string, string, string];
  let header: { typ?: unknown; alg?: unknown };
  let claims: ClaimsData<T>;
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
    claims = JSON.parse(Buffer.from(b, "base64url").toString("utf8"));
  } catch {
    throw new JwtError("not a JWT");
  }
  if ((header.typ !== "JWT" && header.typ !== "jwt") || header.alg !== "ed25519-nkey") {
    throw new JwtError("unsupported JWT header");
  }
  if (typeof claims !== "object" || claims === null || typeof claims.iss !== "string") {
    throw new JwtError("JWT has no issuer");
  }
  if (opts.authenticated?.(claims)) return claims;
  if (!verifySignature(claims.iss, Buffer.from(`${h}.${b}`), Buffer.from(s, "base64url"))) {
    throw new JwtError("JWT signature does not verify");
  }
  return claims;
}

/** Reads the claims of a JWT this service made itself, without verifying (for stored JWTs). */
export function peekClaims<T>(token: string): ClaimsData<T> {
  const body = token.split(".")[1];
  if (!body) throw new JwtError("not a JWT");
  return JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as ClaimsData<T>;
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(data: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}
