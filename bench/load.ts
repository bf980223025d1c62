import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Authenticator } from "@nats-io/nats-core";
import { NKeyPair } from "../service/identity/index.ts";

/** How one client authenticates; nonces are signed natively (libsodium, as the service signs) so the generator does not measure itself. */
export type ClientAuth = { kind: "creds"; jwt: string; seed: string } | { kind: "nkey"; seed: string } | { kind: "userpass"; user: string; pass: string };

function authenticator(auth: ClientAuth): Authenticator | undefined {
  if (auth.kind === "userpass") return undefined;
  const kp = NKeyPair.fromSeed(auth.seed, "user");
  const nkey = kp.getPublicKey();
  const sign = (nonce?: string) => Buffer.from(kp.sign(Buffer.from(nonce ?? ""))).toString("base64url");
  return auth.kind === "creds" ? (nonce?: string) => ({ jwt: auth.jwt, nkey, sig: sign(nonce) }) : (nonce?: string) => ({ nkey, sig: sign(nonce) });
}

/** Connect, publish, flush, close: one "connect" of the benchmark. */
export async function oneConnect(url: string, auth: ClientAuth): Promise<void> {
  const opts = auth.kind === "userpass" ? { user: auth.user, pass: auth.pass } : { authenticator: authenticator(auth) };
  const nc: NatsConnection = await connect({ servers: url, reconnect: false, timeout: 5000, ...opts });
  nc.publish(auth.kind === "userpass" ? "_INBOX.bench" : "bench.connect", "x");
  await nc.flush();
  await nc.close();
}

export interface LoadResult {
  ok: number;
  failures: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  /** How many took longer than `slowMs` (when given). */
  slow: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs `n` operations with at most `inFlight` at once; latencies in ms. Bounded by `n`. */
export async function runLoad(n: number, inFlight: number, op: (i: number) => Promise<void>, progress?: (done: number) => void, slowMs = Number.POSITIVE_INFINITY): Promise<LoadResult> {
  const lat: number[] = [];
  let failures = 0;
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const t0 = performance.now();
      try {
        await op(i);
        lat.push(performance.now() - t0);
      } catch {
        failures++;
      }
      if (progress && (lat.length + failures) % 100 === 0) progress(lat.length + failures);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  const seconds = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { ok: lat.length, failures, seconds, rate: lat.length / seconds, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), slow: lat.filter((ms) => ms > slowMs).length };
}
