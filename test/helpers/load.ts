import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { callApi } from "./mnq.ts";

/** Runs `task(0..count-1)` with at most `inFlight` at once; resolves with every outcome. */
export async function bounded<T>(count: number, inFlight: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return out;
}

export interface CreateOutcome {
  project: string;
  /** The account id of the 200 reply (after retries), or undefined. */
  id?: string;
  /** The last error answer (code) when there was no 200. */
  code?: number;
  attempts: number;
  /** What each failed attempt met: "503", or "timeout, then found|none|no list". */
  trail: string[];
}

/**
 * Account create as a careful client does it: a 503 ("safe to retry") is retried up to
 * `deadlineMs`; after a timeout the create may or may not have happened (the instance may have
 * died after it, before its reply left), so the client first looks for its account by name and
 * only creates again when it is not there. Every other answer ends it.
 */
export async function createRetrying(nc: NatsConnection, project: string, name: string, deadlineMs = 60_000, timeoutMs = 5000): Promise<CreateOutcome> {
  const deadline = Date.now() + deadlineMs;
  const trail: string[] = [];
  for (let attempts = 1; ; attempts++) {
    try {
      const r = await callApi<{ id: string }>(nc, `mnq.api.v1.${project}.nats-accounts.create`, { name }, timeoutMs);
      if (r.code === undefined) return { project, id: r.body.id, attempts, trail };
      if (r.code !== 503 || Date.now() > deadline) return { project, code: r.code, attempts, trail };
      trail.push(String(r.code));
    } catch (err) {
      if (Date.now() > deadline) return { project, code: 408, attempts, trail };
      if (!/timeout|no responders/i.test(String(err))) throw err;
      const found = await findByName(nc, project, name, deadline);
      trail.push(`timeout, then ${found === null ? "no list" : found ? "found" : "none"}`);
      if (found === null) return { project, code: 408, attempts, trail };
      if (found) return { project, id: found, attempts, trail };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The id of the project's account called `name`, undefined when the list says there is none, or
 * null when no list could be had by `deadline`. Only a list that answered counts as "none": a
 * failed one (a 503 while the cluster recovers, a lost reply) is asked again.
 */
async function findByName(nc: NatsConnection, project: string, name: string, deadline: number): Promise<string | undefined | null> {
  for (;;) {
    try {
      const r = await callApi<{ nats_accounts: { id: string; name: string }[] }>(nc, `mnq.api.v1.${project}.nats-accounts.list`, { name }, 10_000);
      if (r.code === undefined) return r.body.nats_accounts.find((a) => a.name === name)?.id;
    } catch {
      // a timeout or no responders: ask again
    }
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * One client connect through the auth callout (user/password: an API key), a publish and a flush,
 * then close; a refused or timed-out connect is retried until `deadlineMs`. Resolves with the
 * number of attempts, or rejects with the last error.
 */
export async function connectRetrying(servers: string[], user: string, pass: string, deadlineMs = 60_000): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  for (let attempts = 1; ; attempts++) {
    let stage = "connect";
    let nc: NatsConnection | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // Every step is bounded: a connection whose server dies mid-flush has been seen to leave
      // flush() pending for good.
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`connect attempt stuck in ${stage}`)), 15_000);
      });
      await Promise.race([
        stuck,
        (async () => {
          nc = await connect({ servers, user, pass, reconnect: false, timeout: 5000 });
          stage = "flush";
          nc.publish("mnq.load", "x");
          await nc.flush();
          stage = "close";
          await nc.close();
        })(),
      ]);
      return attempts;
    } catch (err) {
      void nc?.close().catch(() => undefined);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      clearTimeout(timer);
    }
  }
}
