import type { Permissions } from "@nats-io/jwt";

/**
 * A credential's permissions as docs/api.md writes them (schemas/common.json `permissions`): subjects
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

/**
 * Why `p` would let its holder publish outside `publish`: with `allow_responses`, the server lets
 * a connection answer every request it receives, to whatever reply subject the request names, and
 * counts the answers per request. A holder that may publish on a subject it may also subscribe to
 * sends itself requests with any reply subject (`bank.transfer.1`, …) and answers each: a publish
 * anywhere. Undefined when no subject is both publishable and subscribable (deny lists are not
 * counted: refusing on the allow lists alone errs on the safe side), or when publishing is not
 * limited at all.
 */
export function responsesEscalation(p: CredentialPermissions): string | undefined {
  if (!p.allow_responses || (!p.publish?.allow && !p.publish?.deny?.length)) return undefined;
  const pub = p.publish?.allow ?? [">"];
  // a subscribe entry may carry a queue group after a space
  const sub = (p.subscribe?.allow ?? [">"]).map((s) => s.split(" ")[0]!);
  for (const a of pub) {
    for (const b of sub) {
      if (subjectsOverlap(a, b)) {
        return `with allow_responses, no subject may be both published and subscribed to: publish '${a}' and subscribe '${b}' overlap, so the credential could send itself requests with any reply subject and answer them (a publish anywhere); narrow subscribe.allow (for example to '_INBOX.>') or drop allow_responses`;
      }
    }
  }
  return undefined;
}

/** True when some subject matches both NATS subject patterns (`*` one token, a final `>` one or more). */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; ; i++) {
    if (i === x.length || i === y.length) return x.length === y.length;
    if (x[i] === ">" || y[i] === ">") return true;
    if (x[i] !== "*" && y[i] !== "*" && x[i] !== y[i]) return false;
  }
}

/**
 * Where the connections that answer requests (the API, `$SRV`, the callout, the fence) may publish:
 * reply inboxes only. Admins choose the reply subject of their requests, and an answer published
 * to `$KV.…` or `$JS.API.…` with the service's rights would be a write or a stream delete; the
 * server refuses those here. `_R_.` is what it makes of a reply across an import, `$SYS._INBOX.`
 * its own (callout requests), `_MNQ_INBOX.` the service's (fence requests).
 */
export const RESPONDER_PUBLISH = ["_INBOX.>", "_R_.>", "$SYS._INBOX.>", "_MNQ_INBOX.>"];

/** True when `reply` is a subject the responding connections may answer on. */
export function isReplyInbox(reply: string | undefined): reply is string {
  return reply !== undefined && RESPONDER_PUBLISH.some((p) => reply.startsWith(p.slice(0, -1)) && reply.length > p.length - 1);
}
