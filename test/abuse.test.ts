import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { DataFile } from "../service/bootstrap/index.ts";
import { NKeyPair } from "../service/identity/index.ts";
import { printable } from "../service/commands/output.ts";
import { BucketName } from "../service/store/index.ts";
import { check, closedWithin } from "./helpers/check.ts";
import { bounded } from "./helpers/load.ts";
import { callApi, connectWithCreds, type MnqFixture, startMnq } from "./helpers/mnq.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

type Creds = { id: string; credentials: { content: string } };

/** Every tenant is a possible attacker of the others: what one can do must not reach another. */
describe("abuse: one tenant against the others", () => {
  let f: MnqFixture;
  let svc: NatsConnection;
  const open = connectionsOfSuite();

  before(async () => {
    f = await startMnq({ MNQ_ACCOUNT_CONNECTIONS: "3", MNQ_ACCOUNT_SUBSCRIPTIONS: "20" });
    svc = await connectWithCreds(f.server.url, readFileSync(join(f.dataDir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
  });
  after(async () => {
    await open.closeAll();
    await svc.close().catch(() => undefined);
    await f.stop();
  });

  const consumerCounts = async () => {
    const jsm = await jetstreamManager(svc);
    const counts: Record<string, number> = {};
    for (const bucket of Object.values(BucketName)) counts[bucket] = (await jsm.streams.info(`KV_${bucket}`)).state.consumer_count;
    return counts;
  };

  test("abuse - 1,000 credential create/delete cycles and 1,000 imports leave no consumer behind, and other projects' deletes still work", async () => {
    const before = await consumerCounts();
    const account = (await f.api<{ id: string }>("ab-churn", "nats-accounts.create", {})).body.id;
    const cycles = await bounded(1000, 10, async () => {
      const c = await f.api<Creds>("ab-churn", "nats-credentials.create", { nats_account_id: account });
      if (c.code !== undefined) return `create ${c.code}`;
      const d = await f.api("ab-churn", "nats-credentials.delete", { nats_credentials_id: c.body.id });
      return d.code === undefined ? "ok" : `delete ${d.code}`;
    });
    assert.deepEqual(cycles.filter((o) => o !== "ok").slice(0, 3), []);
    const imports = await bounded(1000, 10, async () => {
      const kp = NKeyPair.create("account");
      return (await f.api("ab-import", "nats-accounts.import", { account_id: kp.getPublicKey(), private_key: kp.seedString() })).code;
    });
    assert.ok(imports.filter((c) => c === 429).length > 900, "past the project's cap, imports answer 429");
    assert.deepEqual(await consumerCounts(), before, "no request left a consumer on any bucket");
    // another project's delete answers 200 and closes its connection
    const other = (await f.api<{ id: string }>("ab-victim", "nats-accounts.create", {})).body.id;
    const c = (await f.api<Creds>("ab-victim", "nats-credentials.create", { nats_account_id: other })).body;
    const nc = await connectWithCreds(f.server.url, c.credentials.content, { reconnect: false });
    open.keep(nc);
    const closing = closedWithin(nc, 1000);
    assert.equal((await f.api("ab-victim", "nats-credentials.delete", { nats_credentials_id: c.id })).code, undefined);
    await closing;
  });

  test("abuse - names with control or invisible characters (NUL, ANSI escapes, BEL, bidi marks and overrides, zero-width, BOM, tags, line separators, Hangul fillers) are refused, naming the argument", async () => {
    const account = (await f.api<{ id: string }>("ab-names", "nats-accounts.create", {})).body.id;
    const invisible = ["\u2028", "\u2029", "\u200e", "\u200f", "\u061c", "\u200b", "\ufeff", "\u{e0041}", "\u3164", "\u115f", "\u1160", "\uffa0"];
    for (const name of ["a\u0000b", "\u001b[31mred", "ding\u0007", "abc\u202eexe.txt", ...invisible.map((c) => `admin${c}`)]) {
      const a = await f.api<{ details: { argument_name: string; reason: string }[] }>("ab-names", "nats-accounts.create", { name });
      assert.equal(a.code, 400);
      assert.deepEqual([a.body.details[0]?.argument_name, a.body.details[0]?.reason], ["name", "format"]);
      const c = await f.api("ab-names", "nats-credentials.create", { nats_account_id: account, name });
      assert.equal(c.code, 400);
      const k = await callApi(f.admin, "mnq.admin.v1.api-keys.create", { project_id: "ab-names", name });
      assert.equal(k.code, 400);
    }
    assert.equal((await f.api("ab-names", "nats-accounts.create", { name: "ünïcode and spaces, 名前, 🙂" })).code, undefined, "printable text is fine");
    // and the mnq command shows what an older record may hold escaped
    assert.equal(printable(`a${invisible.join("")}b`), `a${invisible.map((c) => `\\u{${c.codePointAt(0)!.toString(16)}}`).join("")}b`);
    assert.equal(printable("ünïcode 名前 🙂"), "ünïcode 名前 🙂");
  });

  test("abuse - streams per account are bounded (MNQ_ACCOUNT_STREAMS, 1,000 by default): the 1,001st is refused, and a delete of the full account answers 200 before its caller gives up", async (t) => {
    const account = (await f.api<{ id: string }>("ab-streams", "nats-accounts.create", {})).body.id;
    const creds = (await f.api<Creds>("ab-streams", "nats-credentials.create", { nats_account_id: account })).body.credentials.content;
    const nc = await connectWithCreds(f.server.url, creds, { reconnect: false });
    open.keep(nc);
    const jsm = await jetstreamManager(nc);
    const made = await bounded(1000, 20, async (i) => {
      await jsm.streams.add({ name: `s${i}`, subjects: [`s.${i}`], max_msgs: 1 });
      return i;
    });
    assert.equal(made.length, 1000);
    await assert.rejects(jsm.streams.add({ name: "one-more", subjects: ["one.more"] }), /maximum number of streams/i);
    const started = performance.now();
    const d = await f.api("ab-streams", "nats-accounts.delete", { nats_account_id: account });
    const took = performance.now() - started;
    t.diagnostic(`a delete of an account with 1,000 streams answered in ${took.toFixed(0)} ms`);
    assert.equal(d.code, undefined, d.message);
    // within what a caller waits for an answer (callApi's 10 s): 2 s measured on 2 cores, 1 s of it the freeze
    assert.ok(took < 10_000, `${took.toFixed(0)} ms`);
  });

  test("abuse - connections and subscriptions per account are bounded (MNQ_ACCOUNT_CONNECTIONS, MNQ_ACCOUNT_SUBSCRIPTIONS)", async () => {
    const account = (await f.api<{ id: string }>("ab-limits", "nats-accounts.create", {})).body.id;
    const creds = (await f.api<Creds>("ab-limits", "nats-credentials.create", { nats_account_id: account })).body.credentials.content;
    const conns = await Promise.all([0, 1, 2].map(() => connectWithCreds(f.server.url, creds, { reconnect: false })));
    open.keep(...conns);
    // the server refuses the 4th ("maximum account active connections exceeded"; the client may
    // see the socket closed under it first)
    await assert.rejects(connectWithCreds(f.server.url, creds, { reconnect: false }), /maximum.*connections|EPIPE|ECONNRESET/i);
    const nc = conns[0]!;
    const errors: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === "error") errors.push(String(s.error));
    })();
    // each client holds a subscription for its inbox already; a few dozen more pass the limit of 20
    for (let i = 0; i < 30; i++) nc.subscribe(`sub.${i}`);
    await nc.flush().catch(() => undefined);
    await check(() => errors.some((e) => /maximum subscriptions/i.test(e)) || nc.isClosed(), 5000);
  });

  test("abuse - a tenant creating a stream while its account is deleted (it watches $JS.API.STREAM.DELETE.>) leaves nothing on disk, 3 times", async () => {
    const storeDir = join(f.dataDir, DataFile.jetstreamDir);
    for (let run = 0; run < 3; run++) {
      const account = (await f.api<{ id: string }>(`ab-teardown-${run}`, "nats-accounts.create", {})).body.id;
      const c = (await f.api<Creds>(`ab-teardown-${run}`, "nats-credentials.create", { nats_account_id: account })).body;
      const tenant = await connectWithCreds(f.server.url, c.credentials.content, { maxReconnectAttempts: -1, reconnectTimeWait: 50 });
      open.keep(tenant);
      const jsm = await jetstreamManager(tenant);
      await jsm.streams.add({ name: "DATA", subjects: ["data.>"], max_bytes: 1024 * 1024 });
      assert.ok(existsSync(join(storeDir, "jetstream", account, "streams", "DATA")), "the account's streams live here");
      let sneaked = 0;
      tenant.subscribe("$JS.API.STREAM.DELETE.>", {
        callback: () => {
          sneaked++;
          void jsm.streams.add({ name: `SNEAK${sneaked}`, subjects: [`sneak${sneaked}.>`], max_bytes: 1024 * 1024 }).catch(() => undefined);
        },
      });
      await tenant.flush();
      const r = await f.api(`ab-teardown-${run}`, "nats-accounts.delete", { nats_account_id: account });
      assert.equal(r.code, undefined, r.message);
      await tenant.close();
      const left = existsSync(join(storeDir, "jetstream", account)) ? readdirSync(join(storeDir, "jetstream", account, "streams")) : [];
      assert.deepEqual(left, [], `run ${run}: no stream of the deleted account is left on disk (it saw ${sneaked} deletes)`);
    }
  });

  /** One API-key connect and one API call of another project, `n` times one after another: latencies, and what failed. */
  const bystander = async (key: { access_key: string; secret_key: string }, project: string, n: number) => {
    const ms: number[] = [];
    const failed: string[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      try {
        const nc = await connect({ servers: f.server.url, user: key.access_key, pass: key.secret_key, reconnect: false, timeout: 5000 });
        const r = await callApi(nc, `mnq.api.v1.${project}.nats-accounts.list`, {}, 5000);
        await nc.close();
        if (r.code !== undefined) failed.push(String(r.code));
      } catch (err) {
        failed.push(String(err));
      }
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    return { p50: ms[Math.floor(ms.length / 2)]!, p99: ms[Math.floor(ms.length * 0.99)]!, failed };
  };
  const projectKey = async (project: string) => (await callApi<{ access_key: string; secret_key: string }>(f.admin, "mnq.admin.v1.api-keys.create", { project_id: project })).body;

  test("abuse - 10 list calls kept in flight on a full account (5,000 credentials): another project's connect-and-call never fails, its median within 8 times its median without them", async (t) => {
    const account = (await f.api<{ id: string }>("ab-lists", "nats-accounts.create", {})).body.id;
    const made = await bounded(5000, 20, async () => (await f.api("ab-lists", "nats-credentials.create", { nats_account_id: account })).code);
    assert.deepEqual(made.filter((c) => c !== undefined).slice(0, 3), [], "the account fills to its bound");
    const key = await projectKey("ab-lists-bystander");
    await bystander(key, "ab-lists-bystander", 1);
    // the same tenant without the lists, measured in this run: what this machine gives it now
    const quiet = await bystander(key, "ab-lists-bystander", 100);
    let listing = true;
    let lists = 0;
    const listers = Array.from({ length: 10 }, async (_, w) => {
      for (let i = 0; listing && i < 10_000; i++) {
        await f.api("ab-lists", "nats-credentials.list", { nats_account_id: account, order_by: w % 2 ? "name_desc" : "updated_at_desc", page: 1 + (i % 250) });
        lists++;
      }
    });
    const seen = await bystander(key, "ab-lists-bystander", 100).finally(() => (listing = false));
    await Promise.all(listers);
    t.diagnostic(
      `${lists} list pages answered meanwhile; bystander p50 ${seen.p50.toFixed(1)} ms, p99 ${seen.p99.toFixed(1)} ms ` +
        `(without them: p50 ${quiet.p50.toFixed(1)} ms, p99 ${quiet.p99.toFixed(1)} ms)`,
    );
    assert.ok(lists >= 10, "the lists were on");
    assert.deepEqual(seen.failed.slice(0, 3), []);
    const bound = Math.max(50, 8 * quiet.p50);
    assert.ok(seen.p50 < bound, `p50 ${seen.p50.toFixed(1)} ms under the lists, bound ${bound.toFixed(1)} ms`);
  });

  test("abuse - a flood of 300 bogus connects in flight (unknown keys, wrong secrets, forged nkeys): another tenant's connect-and-call never fails, its median within 8 times its median without the flood", async (t) => {
    const victim = await projectKey("ab-flood-victim");
    await bystander(victim, "ab-flood-victim", 1); // its secret is verified once, as a live key's is
    // the same tenant without the flood, measured in this run: what this machine gives it now
    const quiet = await bystander(victim, "ab-flood-victim", 100);
    const target = await projectKey("ab-flood-target");
    const someone = NKeyPair.create("user");
    const bogus = (i: number) =>
      i % 3 === 0
        ? { user: `MNQ${"A".repeat(17 - String(i).length)}${i}`, pass: "x" }
        : i % 3 === 1
          ? { user: target.access_key, pass: `guess-${i}` }
          : { authenticator: () => ({ nkey: someone.getPublicKey(), sig: Buffer.from(NKeyPair.create("user").sign(Buffer.from("x"))).toString("base64url") }) };
    let flooding = true;
    let refused = 0;
    const flood = bounded(300, 300, async (w) => {
      for (let i = 0; flooding && i < 50; i++) {
        await connect({ servers: f.server.url, reconnect: false, timeout: 5000, ...bogus(w * 50 + i) }).then(
          (nc) => nc.close(),
          () => refused++,
        );
      }
    });
    const seen = await bystander(victim, "ab-flood-victim", 100).finally(() => (flooding = false));
    await flood;
    t.diagnostic(
      `${refused} bogus connects refused meanwhile; the other tenant's p50 ${seen.p50.toFixed(1)} ms, p99 ${seen.p99.toFixed(1)} ms ` +
        `(without the flood: p50 ${quiet.p50.toFixed(1)} ms, p99 ${quiet.p99.toFixed(1)} ms)`,
    );
    assert.ok(refused >= 300, "the flood was on");
    assert.deepEqual(seen.failed.slice(0, 3), []);
    // The tail is the machine's: 0.74–0.87 s alone on 2 cores, about 2 s while another suite runs
    // beside this one (the flood's clients, nats-server and mnq share the cores). The median is
    // what the flood moves, compared with this run's own quiet figure.
    const bound = Math.max(50, 8 * quiet.p50);
    assert.ok(seen.p50 < bound, `p50 ${seen.p50.toFixed(1)} ms under the flood, bound ${bound.toFixed(1)} ms`);
  });

  test("abuse - twelve wrong secrets for another project's API key, or twelve forged signatures for a credential's nkey, do not refuse the owner", async () => {
    const key = await projectKey("ab-lockout");
    for (let i = 0; i < 12; i++) {
      await assert.rejects(connect({ servers: f.server.url, user: key.access_key, pass: `guess-${i}`, reconnect: false }), /authorization/i);
    }
    await (await connect({ servers: f.server.url, user: key.access_key, pass: key.secret_key, reconnect: false })).close();
    const account = (await f.api<{ id: string }>("ab-lockout", "nats-accounts.create", {})).body.id;
    const c = (await f.api<Creds>("ab-lockout", "nats-credentials.create", { nats_account_id: account })).body;
    const kp = NKeyPair.fromSeed(c.credentials.content.match(/SU[A-Z2-7]{56}/)![0], "user");
    const signed = (signer: NKeyPair) => (nonce?: string) => ({ nkey: kp.getPublicKey(), sig: Buffer.from(signer.sign(Buffer.from(nonce ?? ""))).toString("base64url") });
    for (let i = 0; i < 12; i++) {
      await assert.rejects(connect({ servers: f.server.url, authenticator: signed(NKeyPair.create("user")), reconnect: false }), /authorization/i);
    }
    await (await connect({ servers: f.server.url, authenticator: signed(kp), reconnect: false })).close();
  });

  test("abuse - a reply subject that is not an inbox ($KV, $JS, mnq.internal) gets no answer: status, $SRV.PING and an API call cannot overwrite another credential's index entry", async () => {
    const account = (await f.api<{ id: string }>("ab-reply", "nats-accounts.create", {})).body.id;
    const c = (await f.api<Creds>("ab-reply", "nats-credentials.create", { nats_account_id: account })).body;
    const kp = NKeyPair.fromSeed(c.credentials.content.match(/SU[A-Z2-7]{56}/)![0], "user");
    const targets = [`$KV.${BucketName.credentialKeys}.${kp.getPublicKey()}`, "$JS.API.STREAM.DELETE.KV_mnq-accounts", "mnq.internal.fence"];
    // whatever reaches those subjects is seen here (the service user may subscribe to them)
    const landed: string[] = [];
    const subs = targets.map((t) => svc.subscribe(t, { callback: (_e, m) => void landed.push(m.subject) }));
    await svc.flush();
    const subjects = ["mnq.admin.v1.status", "$SRV.PING.mnq", "mnq.api.v1.ab-reply.nats-credentials.list"];
    for (const subject of subjects) for (const reply of targets) f.admin.publish(subject, subject.endsWith(".list") ? JSON.stringify({ nats_account_id: account }) : "", { reply });
    // the same requests with an inbox are answered: by then the forged ones were taken
    for (const subject of subjects) await f.admin.request(subject, subject.endsWith(".list") ? JSON.stringify({ nats_account_id: account }) : "", { timeout: 5000 });
    await f.admin.flush();
    await svc.flush();
    subs.forEach((s) => s.unsubscribe());
    assert.deepEqual(landed, [], "no answer was published to a non-inbox reply subject");
    const nc = await connect({ servers: f.server.url, authenticator: nkeyAuthenticator(new TextEncoder().encode(kp.seedString())), reconnect: false });
    await nc.close();
  });
});
