import type { Permissions } from "@nats-io/jwt";

/**
 * A credential's permissions as API.md writes them (schemas/common.json `permissions`): subjects
 * it may publish and subscribe to inside its account, and replies to requests it received.
 */
export interface CredentialPermissions {
  publish?: { allow?: string[]; deny?: string[] };
  subscribe?: { allow?: string[]; deny?: string[] };
  allow_responses?: { max_msgs?: number; expires_ms?: number };
}

/** The same in a user JWT's claims (`pub`, `sub`, `resp`; `resp.ttl` in nanoseconds). */
export function jwtPermissions(p: CredentialPermissions): Permissions {
  const out: Permissions = {};
  if (p.publish) out.pub = { ...p.publish };
  if (p.subscribe) out.sub = { ...p.subscribe };
  if (p.allow_responses) out.resp = { max: p.allow_responses.max_msgs ?? 1, ttl: (p.allow_responses.expires_ms ?? 0) * 1_000_000 };
  return out;
}
