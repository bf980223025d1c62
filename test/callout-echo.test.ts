import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createInbox, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { echoed } from "../service/callout/responder.ts";
import { type RunningServer, startNatsServer } from "../service/server/launcher.ts";
import { natsServerBin, removeDir } from "./helpers/servers.ts";

/**
 * An admitting response's copy through the instance's other connection covers a response lost with
 * a node it crosses; when one connection is on the server that asked, that one answers alone. Two
 * servers: the request came in on `from` (server A), the other connection `to` is on server B, and
 * an observer on each server counts what reaches the reply subject there.
 */
describe("callout: the admitting response's echo", () => {
  let dir: string;
  const servers: RunningServer[] = [];
  let from: NatsConnection;
  let to: NatsConnection;
  let seeA: NatsConnection;
  let seeB: NatsConnection;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "mnq-echo-"));
    const conf = join(dir, "server.conf");
    writeFileSync(conf, 'listen: "127.0.0.1:-1"\n');
    for (let i = 0; i < 2; i++) servers.push(await startNatsServer({ bin: natsServerBin(), configFile: conf, cwd: dir }));
    from = await connect({ servers: servers[0]!.url });
    seeA = await connect({ servers: servers[0]!.url });
    to = await connect({ servers: servers[1]!.url });
    seeB = await connect({ servers: servers[1]!.url });
  });
  after(async () => {
    await Promise.all([from, to, seeA, seeB].map((nc) => nc?.close()));
    for (const s of servers) await s.stop();
    removeDir(dir);
  });

  /** What reaches the reply subject on A and on B when `act` answers through an echoed message. */
  async function copies(act: (msg: ReturnType<typeof echoed>) => void): Promise<{ a: number; b: number }> {
    const reply = createInbox();
    const seen = { a: 0, b: 0 };
    const subs = [seeA.subscribe(reply, { callback: () => void seen.a++ }), seeB.subscribe(reply, { callback: () => void seen.b++ })];
    await Promise.all([seeA.flush(), seeB.flush()]);
    const msg = echoed(
      {
        reply,
        data: new Uint8Array(),
        headers: undefined,
        respond: (d) => (from.publish(reply, d), true),
        respondError: (_code, _description, d) => (from.publish(reply, d ?? ""), true),
      },
      { from, to: () => to },
    );
    act(msg);
    await Promise.all([from.flush(), to.flush()]);
    await Promise.all([seeA.flush(), seeB.flush()]);
    for (const s of subs) s.unsubscribe();
    return seen;
  }

  const admit = (requester: () => string) => (msg: ReturnType<typeof echoed>) => {
    assert.ok(msg.admit, "an echoed message admits through `admit`");
    msg.admit("response", requester());
  };

  test("echo - asked by the server the request came in on: answered there once", async () => {
    assert.deepEqual(await copies(admit(() => from.info!.server_id)), { a: 1, b: 0 });
  });

  test("echo - asked by the other connection's server: answered there once", async () => {
    assert.deepEqual(await copies(admit(() => to.info!.server_id)), { a: 0, b: 1 });
  });

  test("echo - asked by a third server: answered on both connections", async () => {
    assert.deepEqual(await copies(admit(() => "NOTASERVEROFTHISTEST")), { a: 1, b: 1 });
  });

  test("echo - denials and errors are never copied", async () => {
    const seen = await copies((msg) => {
      msg.respondError(401, "denied", "no");
      msg.respond("plain");
    });
    assert.deepEqual(seen, { a: 2, b: 0 });
  });
});
