import { createHash } from "node:crypto";
import { fmtCreds } from "@nats-io/jwt";
import type { NKeyPair } from "./keys.ts";

/** The standard decorated NATS credentials file (user JWT + user seed). A secret. */
export function formatCreds(userJwt: string, user: NKeyPair): string {
  return new TextDecoder().decode(fmtCreds(userJwt, user));
}

/** Lowercase hex SHA-1 of the credentials file exactly as returned (docs/api.md `checksum`). */
export function credsChecksum(content: string): string {
  return createHash("sha1").update(content, "utf8").digest("hex");
}

/** Pulls the JWT and the seed out of a credentials file. */
export function parseCreds(content: string): { jwt: string; seed: string } {
  const blocks = [...content.matchAll(/-{3,}[^\n]*-{3,}\r?\n\s*([^\s-][^\n]*)\r?\n\s*-{3,}[^\n]*-{3,}/g)].map((m) => m[1]!.trim());
  const [jwt, seed] = blocks;
  if (!jwt || !seed) throw new Error("not a credentials file");
  return { jwt, seed };
}
