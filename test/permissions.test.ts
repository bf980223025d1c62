import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { parseCreds, peekClaims } from "../service/identity/index.ts";
import { check, closedWithin } from "./helpers/check.ts";
import { assertReplySchema, connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

type Creds = {
  id: string;
  permissions: unknown;
  expires_at: string | null;
  credentials: { content: string };
};
type Invalid = { type: string; details: { argument_name: string; reason: string; help_message: string }[] };

const P = "perm";

describe("least-privilege credentials: permissions and expiry", () => {
  let f: MnqFixture;
  let account: string;
  /** A full-access creds-file client of the account: it sees what is delivered. */
  let observer: NatsConnection;
  const open = connectionsOfSuite();

  before(async () => {
    f = await startMnq();
    account = (await f.api<{ id: string }>(P, "nats-accounts.create", { name: "perm" })).body.id;
    const full = await f.api<Creds>(P, "nats-credentials.create", { nats_account_id: account });
    observer = await connectWithCreds(f.server.url, full.body.credentials.content);
    open.keep(observer);
  });
  after(async () => {
    await open.closeAll();
    await f.stop();
  });

  const create = (body: Record<string, unknown>) => f.api<Creds>(P, "nats-credentials.create", { nats_account_id: account, ...body });

  /** Both ways in: the creds file (checked by the server) and the nkey through the callout. */
  const ways = {
    "creds file": (c: Creds, opts: Record<string, unknown> = {}) => connectWithCreds(f.server.url, c.credentials.content, { reconnect: false, ...opts }),
    nkey: (c: Creds, opts: Record<string, unknown> = {}) =>
      connect({
        servers: f.server.url,
        reconnect: false,
        authenticator: nkeyAuthenticator(new TextEncoder().encode(parseCreds(c.credentials.content).seed)),
        ...opts,
      }),
  };
  const dial = async (way: keyof typeof ways, c: Creds) => {
    const nc = await ways[way](c);
    open.keep(nc);
    return nc;
  };
  /** The permissions violations the server reports to `nc`. */
  const violations = (nc: NatsConnection) => {
    const seen: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === "error" && /permission/i.test(String(s.error))) seen.push(String(s.error));
    })();
    return seen;
  };

  test("nats-credentials create - permissions and expires_at are stored and returned by create, get and list", async () => {
    const permissions = { publish: { allow: ["orders.>"], deny: ["orders.secret"] }, subscribe: { allow: ["_INBOX.>", "jobs.> workers"] }, allow_responses: { max_msgs: 2, expires_ms: 5000 } };
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const c = await create({ permissions, expires_at: expiresAt });
    assert.equal(c.code, undefined, c.message);
    assertReplySchema("nats-credentials.create", c.body);
    assert.deepEqual(c.body.permissions, permissions);
    assert.equal(c.body.expires_at, new Date(Math.floor(Date.parse(expiresAt) / 1000) * 1000).toISOString());
    const got = await f.api<Creds>(P, "nats-credentials.get", { nats_credentials_id: c.body.id });
    assertReplySchema("nats-credentials.get", got.body);
    assert.deepEqual([got.body.permissions, got.body.expires_at], [permissions, c.body.expires_at]);
    const listed = await f.api<{ nats_credentials: Creds[] }>(P, "nats-credentials.list", { nats_account_id: account });
    assertReplySchema("nats-credentials.list", listed.body);
    assert.deepEqual(listed.body.nats_credentials.find((x) => x.id === c.body.id)?.permissions, permissions);
    // the creds file's JWT carries them
    const claims = peekClaims<{ pub: unknown; sub: unknown; resp: unknown }>(parseCreds(c.body.credentials.content).jwt);
    assert.deepEqual(claims.nats.pub, permissions.publish);
    assert.deepEqual(claims.nats.resp, { max: 2, ttl: 5000 * 1_000_000 });
    assert.equal(claims.exp, Math.floor(Date.parse(expiresAt) / 1000));
    // without them: null, and full access
    const plain = await create({});
    assert.deepEqual([plain.body.permissions, plain.body.expires_at], [null, null]);
  });

  for (const way of Object.keys(ways) as (keyof typeof ways)[]) {
    test(`permissions (${way}) - an allowed publish is delivered; outside the allow list or on the deny list it is refused and never delivered`, async () => {
      const c = (await create({ permissions: { publish: { allow: ["orders.>"], deny: ["orders.secret"] } } })).body;
      const nc = await dial(way, c);
      const refused = violations(nc);
      const got: string[] = [];
      const sub = observer.subscribe(">", {
        callback: (e, m) => {
          if (!e) got.push(m.subject);
        },
      });
      await observer.flush();
      nc.publish("orders.new", "ok");
      nc.publish("orders.secret", "no");
      nc.publish("billing.new", "no");
      await nc.flush();
      nc.publish("orders.done", "ok"); // a marker: everything before it has been handled
      await check(() => got.includes("orders.done"), 5000);
      await check(() => refused.length >= 2, 5000);
      sub.unsubscribe();
      assert.deepEqual(got.filter((s) => s !== "_INBOX" && !s.startsWith("_INBOX.")).sort(), ["orders.done", "orders.new"]);
      assert.ok(refused.some((e) => /orders\.secret/.test(e)) && refused.some((e) => /billing\.new/.test(e)), refused.join("; "));
    });

    test(`permissions (${way}) - a subscription outside the allow list receives nothing and is refused`, async () => {
      const c = (await create({ permissions: { subscribe: { allow: ["orders.>"] } } })).body;
      const nc = await dial(way, c);
      const refused = violations(nc);
      const allowed: string[] = [];
      const other: string[] = [];
      nc.subscribe("orders.*", {
        callback: (e, m) => {
          if (!e) allowed.push(m.subject);
        },
      });
      nc.subscribe("billing.*", {
        callback: (e, m) => {
          // the server's refusal comes to this subscription as an error
          if (e) refused.push(String(e));
          else other.push(m.subject);
        },
      });
      await nc.flush();
      await check(() => refused.some((e) => /billing/.test(e)), 5000);
      observer.publish("billing.new", "x");
      observer.publish("orders.new", "x");
      await check(() => allowed.length === 1, 5000);
      await nc.flush();
      assert.deepEqual(other, []);
    });

    test(`permissions (${way}) - a restricted responder with allow_responses answers a request`, async () => {
      const c = (await create({ permissions: { publish: { allow: ["nothing.here"] }, subscribe: { allow: ["svc.echo"] }, allow_responses: {} } })).body;
      const nc = await dial(way, c);
      nc.subscribe("svc.echo", {
        callback: (e, m) => {
          if (!e) m.respond(`echo ${m.string()}`);
        },
      });
      await nc.flush();
      const reply = await observer.request("svc.echo", "hi", { timeout: 3000 });
      assert.equal(reply.string(), "echo hi");
    });
  }

  test("expiry - credentials expiring in a few seconds work, are disconnected then (creds file and nkey), are refused after, and stay listed", async () => {
    const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 4000);
    const c = (await create({ expires_at: expiresAt.toISOString() })).body;
    const file = await dial("creds file", c);
    const nk = await dial("nkey", c);
    // the callout's session never outlives the credential
    // (USER.INFO's `expires` is the time left, in ns)
    const me = (await nk.request("$SYS.REQ.USER.INFO", "")).json<{ data: { expires?: number } }>().data;
    const left = expiresAt.getTime() - Date.now();
    assert.ok(me.expires !== undefined && me.expires / 1e6 <= left + 1000, `session expires in ${me.expires} ns, credential in ${left} ms`);
    const closing = [file, nk].map((nc) => closedWithin(nc, 10_000));
    const closedAt = await Promise.all(closing.map((p) => p.then(() => Date.now())));
    for (const t of closedAt) assert.ok(t >= expiresAt.getTime() - 1000, "not closed before it expired");
    // JWT expiry is in whole seconds: from the next second on, both ways are refused
    const after = expiresAt.getTime() + 1000 - Date.now();
    if (after > 0) await new Promise((r) => setTimeout(r, after));
    await assert.rejects(ways["creds file"](c), /authorization|expired/i);
    await assert.rejects(ways.nkey(c), /authorization/i);
    const got = await f.api<Creds>(P, "nats-credentials.get", { nats_credentials_id: c.id });
    assert.equal(got.code, undefined);
    assert.equal(got.body.expires_at, expiresAt.toISOString());
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ["a malformed subject", { permissions: { publish: { allow: ["orders..new"] } } }, "permissions.publish.allow[0]"],
    ["a wildcard inside a token", { permissions: { publish: { allow: ["ord*"] } } }, "permissions.publish.allow[0]"],
    ["'>' not last", { permissions: { subscribe: { deny: ["a.>.b"] } } }, "permissions.subscribe.deny[0]"],
    ["a list too long", { permissions: { publish: { allow: Array.from({ length: 101 }, (_, i) => `s.${i}`) } } }, "permissions.publish.allow"],
    ["an entry too long", { permissions: { subscribe: { allow: [`a.${"x".repeat(256)}`] } } }, "permissions.subscribe.allow[0]"],
    ["a non-array", { permissions: { publish: { allow: "orders.>" } } }, "permissions.publish.allow"],
    ["max_msgs below 1", { permissions: { allow_responses: { max_msgs: 0 } } }, "permissions.allow_responses.max_msgs"],
    ["an unknown permission", { permissions: { publish: { allow: ["a"] }, admin: true } }, "admin"],
    // it could send itself requests with any reply subject and answer each: a publish anywhere
    ["allow_responses with a subject both published and subscribed", { permissions: { publish: { allow: ["svc.req"] }, subscribe: { allow: ["svc.req"] }, allow_responses: {} } }, "permissions.allow_responses"],
    ["allow_responses with wildcards that overlap", { permissions: { publish: { allow: ["svc.*.req"] }, subscribe: { allow: ["svc.> q"] }, allow_responses: {} } }, "permissions.allow_responses"],
    ["allow_responses with a publish deny and no subscribe limit", { permissions: { publish: { deny: ["bank.>"] }, allow_responses: {} } }, "permissions.allow_responses"],
    ["expires_at in the past", { expires_at: new Date(Date.now() - 60_000).toISOString() }, "expires_at"],
    ["expires_at unparsable", { expires_at: "next tuesday" }, "expires_at"],
    ["expires_at over 10 years ahead", { expires_at: new Date(Date.now() + 11 * 365 * 86_400_000).toISOString() }, "expires_at"],
  ];
  for (const [what, body, argument] of bad) {
    test(`nats-credentials create - ${what} answers 400 naming ${argument}, and creates nothing`, async () => {
      const before = (await f.api<{ total_count: number }>(P, "nats-credentials.list", { nats_account_id: account })).body.total_count;
      const r = await f.api<Invalid>(P, "nats-credentials.create", { nats_account_id: account, ...body });
      assert.equal(r.code, 400);
      assert.equal(r.body.type, "invalid_arguments");
      assert.equal(r.body.details[0]?.argument_name, argument, JSON.stringify(r.body.details));
      assert.ok(r.body.details[0]?.help_message.startsWith(argument), "the help message names the argument first");
      assert.doesNotMatch(r.body.details[0]?.help_message ?? "", /\^|\(\?:|must match pattern/, "in words, not a regex");
      const after = (await f.api<{ total_count: number }>(P, "nats-credentials.list", { nats_account_id: account })).body.total_count;
      assert.equal(after, before);
    });
  }
});
