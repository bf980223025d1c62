import type { CredentialPermissions } from "../identity/index.ts";
import { CliError } from "./connection.ts";

/** The flags `mnq creds create` and `mnq context` take for least-privilege credentials. */
export const LIMIT_OPTIONS = {
  "allow-pub": { type: "string" as const, multiple: true as const },
  "deny-pub": { type: "string" as const, multiple: true as const },
  "allow-sub": { type: "string" as const, multiple: true as const },
  "deny-sub": { type: "string" as const, multiple: true as const },
  "allow-responses": { type: "boolean" as const },
  "max-responses": { type: "string" as const },
  "responses-expire": { type: "string" as const },
  expires: { type: "string" as const },
};

export const LIMIT_USAGE =
  "[--allow-pub SUBJ]… [--deny-pub SUBJ]… [--allow-sub SUBJ]… [--deny-sub SUBJ]… [--allow-responses] [--max-responses N] [--responses-expire DURATION] [--expires DURATION|RFC3339]";

export const LIMIT_HELP = `Least privilege (each flag may repeat; without them the credentials reach everything in the account):
  --allow-pub / --deny-pub SUBJ    subjects it may (not) publish to, e.g. 'orders.>'
  --allow-sub / --deny-sub SUBJ    subjects it may (not) subscribe to ('SUBJ QUEUE' names a queue group)
  --allow-responses                may reply to requests it received, outside its publish list (one reply each);
                                   refused while a subject is both in --allow-pub and --allow-sub
  --max-responses N                up to N replies per request (implies --allow-responses)
  --responses-expire DURATION      replies only within this long of the request (e.g. 5s; implies --allow-responses)
  --expires DURATION|RFC3339       the credentials stop working then: 30d, 12h, 90m, 1y, or 2027-01-01T00:00:00Z
A JetStream client needs '$JS.API.>' published and its inbox ('_INBOX.>') subscribed.`;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

/** `30d`, `12h`, `90m`, `45s`, `2w`, `1y` in ms; null when it is not such a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+)([smhdwy])$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** The request fields (`permissions`, `expires_at`) the flags ask for; the service checks them. */
export function limitsFromFlags(v: Values, now = new Date()): { permissions?: CredentialPermissions; expires_at?: string } {
  const list = (name: string) => (v[name] as string[] | undefined) ?? [];
  const rule = (allow: string[], deny: string[]) =>
    allow.length || deny.length ? { ...(allow.length ? { allow } : {}), ...(deny.length ? { deny } : {}) } : undefined;
  const publish = rule(list("allow-pub"), list("deny-pub"));
  const subscribe = rule(list("allow-sub"), list("deny-sub"));
  const maxMsgs = v["max-responses"] === undefined ? undefined : Number(v["max-responses"]);
  if (maxMsgs !== undefined && !Number.isInteger(maxMsgs)) throw new CliError("--max-responses must be a whole number");
  let expiresMs: number | undefined;
  if (v["responses-expire"] !== undefined) {
    const ms = parseDuration(String(v["responses-expire"]));
    if (ms === null) throw new CliError("--responses-expire takes a duration such as 5s or 2m");
    expiresMs = ms;
  }
  const responses = v["allow-responses"] === true || maxMsgs !== undefined || expiresMs !== undefined;
  const permissions: CredentialPermissions = {
    ...(publish ? { publish } : {}),
    ...(subscribe ? { subscribe } : {}),
    ...(responses ? { allow_responses: { ...(maxMsgs !== undefined ? { max_msgs: maxMsgs } : {}), ...(expiresMs !== undefined ? { expires_ms: expiresMs } : {}) } } : {}),
  };
  let expiresAt: string | undefined;
  if (v.expires !== undefined) {
    const text = String(v.expires);
    const ms = parseDuration(text);
    expiresAt = ms !== null ? new Date(now.getTime() + ms).toISOString() : text;
  }
  return { ...(Object.keys(permissions).length ? { permissions } : {}), ...(expiresAt ? { expires_at: expiresAt } : {}) };
}

/** One line for a table: `pub orders.> !orders.secret; sub _INBOX.>; resp 1`. */
export function summarizePermissions(p: CredentialPermissions | null | undefined): string {
  if (!p) return "";
  const rule = (r: { allow?: string[]; deny?: string[] } | undefined) => [...(r?.allow ?? []), ...(r?.deny ?? []).map((s) => `!${s}`)].join(" ");
  const parts: string[] = [];
  if (p.publish) parts.push(`pub ${rule(p.publish)}`);
  if (p.subscribe) parts.push(`sub ${rule(p.subscribe)}`);
  if (p.allow_responses) parts.push(`resp ${p.allow_responses.max_msgs ?? 1}${p.allow_responses.expires_ms ? `/${p.allow_responses.expires_ms}ms` : ""}`);
  return parts.join("; ");
}
