/**
 * How far past the storage quota an account gets under replication: `npm run bench:quota [-- --json]`.
 * A 3-node cluster on loopback and an mnq instance; for each case a fresh account with the default
 * 300 MiB quota writes 64 KiB messages into one R3 stream, each writer one after another as fast as
 * acks come, until the server refuses (10002). The figure is what the account then holds across
 * replicas, as a ratio to the quota. The exact mode (MNQ_ACCOUNT_MAX_BYTES_REQUIRED) is measured
 * beside it: the stream reserves its size × 3 when it is made, and never holds more.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { DataFile } from "../service/bootstrap/index.ts";
import { loadConfig } from "../service/config/index.ts";
import { createLogger } from "../service/runtime/log.ts";
import { type MnqService, startService } from "../service/main.ts";
import { waitForJetStream } from "../service/server/cluster.ts";
import { type Cluster, freshDataDir, removeDir, startCluster } from "../test/helpers/servers.ts";

const json = process.argv.includes("--json");
const QUOTA = 314_572_800;
const CHUNK = new Uint8Array(64 * 1024);
const REPLICAS = 3;

interface Case {
  name: string;
  writers: number;
  exact: boolean;
}
const CASES: Case[] = [
  { name: "r3_1_writer", writers: 1, exact: false },
  { name: "r3_4_writers", writers: 4, exact: false },
  { name: "r3_4_writers_exact", writers: 4, exact: true },
];

function say(text: string): void {
  if (!json) process.stderr.write(`${text}\n`);
}

async function api<T>(nc: NatsConnection, subject: string, body: unknown): Promise<T> {
  const m = await nc.request(subject, JSON.stringify(body), { timeout: 30_000 });
  if (m.headers?.get("Nats-Service-Error-Code")) throw new Error(`${subject}: ${m.string()}`);
  return m.json<T>();
}

/** Writes until refused (or, in exact mode, 1.5× the stream's size); returns the bytes held across replicas. */
async function measure(admin: NatsConnection, cluster: Cluster, c: Case, project: string): Promise<{ held: number; refusedAfter: number }> {
  const account = await api<{ id: string }>(admin, `mnq.api.v1.${project}.nats-accounts.create`, {});
  const creds = await api<{ credentials: { content: string } }>(admin, `mnq.api.v1.${project}.nats-credentials.create`, { nats_account_id: account.id });
  const nc = await connect({ servers: cluster.urls, authenticator: credsAuthenticator(new TextEncoder().encode(creds.credentials.content)) });
  try {
    const jsm = await jetstreamManager(nc);
    const size = Math.floor(QUOTA / REPLICAS / CHUNK.length) * CHUNK.length;
    // a fresh cluster's account may need a moment before its R3 stream can be placed
    for (let attempt = 1; ; attempt++) {
      try {
        await jsm.streams.add({ name: "FILL", subjects: ["fill.>"], num_replicas: REPLICAS, ...(c.exact ? { max_bytes: size } : {}) });
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const js = jetstream(nc);
    const perWriter = Math.ceil((1.5 * QUOTA) / REPLICAS / CHUNK.length / c.writers);
    let stop = false;
    let written = 0;
    await Promise.all(
      Array.from({ length: c.writers }, async (_, w) => {
        for (let i = 0; !stop && i < perWriter; i++) {
          try {
            await js.publish(`fill.${w}`, CHUNK);
            written += CHUNK.length;
          } catch (err) {
            if (err instanceof JetStreamApiError && err.code === 10002) {
              stop = true;
              return;
            }
            throw err;
          }
        }
      }),
    );
    // replicas catch up with the leader
    let held = 0;
    for (let i = 0; i < 20; i++) {
      held = (await jsm.streams.info("FILL")).state.bytes * REPLICAS;
      await new Promise((r) => setTimeout(r, 250));
      if ((await jsm.streams.info("FILL")).state.bytes * REPLICAS === held) break;
    }
    return { held, refusedAfter: written };
  } finally {
    await nc.close();
  }
}

async function main(): Promise<void> {
  const rows: Record<string, number | string>[] = [];
  for (const c of CASES) {
    const dir = freshDataDir();
    const cluster = await startCluster(dir);
    let mnq: MnqService | undefined;
    let admin: NatsConnection | undefined;
    try {
      await waitForJetStream(dir, cluster.urls);
      const cfg = loadConfig({ MNQ_DATA_DIR: dir, MNQ_LOG_LEVEL: "silent", MNQ_KV_REPLICAS: "3", MNQ_NATS_URL: cluster.urls.join(","), MNQ_ACCOUNT_MAX_BYTES_REQUIRED: String(c.exact) });
      mnq = await startService(cfg, createLogger("silent"), cluster.urls);
      admin = await connect({ servers: cluster.urls, authenticator: credsAuthenticator(readFileSync(join(dir, DataFile.adminCreds))) });
      say(`… ${c.name}`);
      const r = await measure(admin, cluster, c, `bench-quota`);
      const row = { name: c.name, writers: c.writers, exact: String(c.exact), held_bytes: r.held, quota_bytes: QUOTA, ratio: Math.round((r.held / QUOTA) * 1000) / 1000 };
      rows.push(row);
      if (json) process.stdout.write(`${JSON.stringify(row)}\n`);
    } finally {
      await admin?.close();
      await mnq?.stop();
      await cluster.stop();
      removeDir(dir);
    }
  }
  if (!json) {
    process.stdout.write(`account storage held across replicas when writes stopped (quota ${QUOTA} bytes, R3, 64 KiB messages)\n`);
    for (const r of rows) process.stdout.write(`${String(r.name).padEnd(20)} ${String(r.held_bytes).padStart(11)} bytes  ${r.ratio}× the quota\n`);
  }
}

await main();
