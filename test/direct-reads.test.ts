import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { DataFile } from "../service/bootstrap/index.ts";
import { Store } from "../service/store/index.ts";
import { DirectReadUnanswered, DirectReads } from "../service/store/direct-reads.ts";
import { connectWithCreds } from "./helpers/mnq.ts";
import { freshDataDir, removeDir, startNode } from "./helpers/servers.ts";
import type { RunningServer } from "../service/server/launcher.ts";

describe("direct reads: a subject's last message through one inbox subscription", () => {
  let dir: string;
  let server: RunningServer;
  let nc: NatsConnection;
  let store: Store;
  const stream = "KV_mnq-projects";
  const subject = (key: string) => `$KV.mnq-projects.${key}`;

  before(async () => {
    dir = freshDataDir();
    server = await startNode(dir);
    nc = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
    store = await Store.open(nc, { replicas: 1 });
  });
  after(async () => {
    await nc?.close();
    await server?.stop();
    removeDir(dir);
  });

  test("direct reads - a record, a key never written, a deleted key and a key found by pattern, many at once", async () => {
    const kv = store.projects.kv;
    const first = await kv.put("p1", JSON.stringify({ id: "p1" }));
    await kv.put("p2", JSON.stringify({ id: "p2" }));
    await kv.delete("p2");
    await kv.put("p3.x", JSON.stringify({ id: "p3" }));
    const reads = new DirectReads(nc);
    const [p1, none, p2, p3] = await Promise.all([
      reads.last(stream, subject("p1"), 2000),
      reads.last(stream, subject("never"), 2000),
      reads.last(stream, subject("p2"), 2000),
      reads.last(stream, subject("p3.*"), 2000),
    ]);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(p1!.data)), { id: "p1" });
    assert.equal(p1!.seq, first);
    assert.equal(p1!.subject, subject("p1"));
    assert.equal(p1!.operation, undefined);
    assert.equal(none, null);
    assert.equal(p2!.operation, "DEL");
    assert.equal(p3!.subject, subject("p3.x"), "the key a pattern matched");
    // every answer went to its own read, none is left waiting
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => reads.last(stream, subject(i % 2 ? "p1" : "never"), 2000)));
    assert.deepEqual(
      many.map((m) => m?.subject ?? null),
      many.map((_, i) => (i % 2 ? subject("p1") : null)),
    );
    assert.equal(reads.pending, 0);
  });

  test("direct reads - a stream nobody serves is unanswered at once (no responders), and so is every read when the connection closes", async () => {
    const reads = new DirectReads(nc);
    const t0 = performance.now();
    await assert.rejects(reads.last("KV_no-such-bucket", "$KV.no-such-bucket.k", 5000), DirectReadUnanswered);
    assert.ok(performance.now() - t0 < 4000, "told by the server, not by the timeout");

    const own = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
    const closing = new DirectReads(own);
    // a read whose answer never comes (a subject no server serves and no-responders cannot tell
    // about: the request goes to a subscriber that never replies)
    own.subscribe("$JS.API.DIRECT.GET.KV_silent.>");
    const stuck = closing.last("KV_silent", "$KV.silent.k", 60_000);
    await own.flush();
    assert.equal(closing.pending, 1);
    const t1 = performance.now();
    await own.close();
    await assert.rejects(stuck, DirectReadUnanswered);
    assert.ok(performance.now() - t1 < 5000, "the closed connection failed the read, its timer did not");
    assert.equal(closing.pending, 0);
  });

  test("direct reads - a read not answered within its time is unanswered, and its late answer goes nowhere", async () => {
    const own = await connectWithCreds(server.url, readFileSync(join(dir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
    try {
      const reads = new DirectReads(own);
      let late: (() => void) | undefined;
      own.subscribe("$JS.API.DIRECT.GET.KV_slow.>", {
        callback: (_e, m) => {
          late = () => m.respond(new Uint8Array([1]));
        },
      });
      await assert.rejects(reads.last("KV_slow", "$KV.slow.k", 200), /timeout/);
      assert.equal(reads.pending, 0);
      assert.ok(late, "the slow read was asked");
      late();
      await own.flush();
      // the next read gets its own answer
      own.subscribe("$JS.API.DIRECT.GET.KV_fast.>", {
        callback: (_e, m) => {
          m.respond(new Uint8Array([2]));
        },
      });
      await assert.rejects(reads.last("KV_fast", "$KV.fast.k", 2000), /direct get: 0 no headers/);
    } finally {
      await own.close();
    }
  });
});
