import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Logger } from "../runtime/log.ts";
import { ResponderCount } from "../runtime/responder-count.ts";
import { validator } from "../contract/validation.ts";
import type { AdmissionGate, FenceRelease } from "./gate.ts";
import { FENCE_SUBJECT } from "../contract/subjects.ts";

/** Owners per fence message (an access key or a user key is ≤ 60 bytes: far below max_payload). */
const OWNERS_PER_MESSAGE = 1000;
const validFenceRequest = validator("urn:mnq:internal:fence.request");
const validFenceReply = validator("urn:mnq:internal:fence.reply");
/** How long a fence waits for every instance's answer. */
const FENCE_WAIT_MS = 1000;
/** How long an instance count (`$SRV.PING.mnq`) is trusted before it is taken again. */
const COUNT_TTL_MS = 10_000;
/**
 * Assumed wait for an instance that did not answer: the longest a server waits for a callout
 * response (its auth_timeout, 2 s by default; requests carry it rounded to seconds) and a margin.
 */
export const UNANSWERED_PENDING_MS = 3000;

export interface FenceRequest extends FenceRelease {
  owners: string[];
}
export interface FenceReply {
  /** How long responses this instance already sent for those owners may still be acted on, ms. */
  pending_ms: number;
  /** The instance answering (it may answer on two connections: counted once). */
  instance: string;
}

/** What a fence learnt: whether every instance answered, and the longest pending grant. */
export interface FenceResult {
  answered: number;
  expected: number;
  pendingMs: number;
}

/**
 * Serves the fence on one instance: blocks the owners in its gate at once (before its views have
 * seen the delete), until its copy of the bucket holds the delete's revision, and answers how long
 * its grants to them may still land. Total: a malformed request is dropped.
 */
export function serveFence(nc: NatsConnection, gate: AdmissionGate, log: Logger, instance: string): Subscription {
  // every instance subscribes (no queue group): a delete must reach all of them
  return nc.subscribe(FENCE_SUBJECT, {
    callback: (err, msg) => {
      if (err || !msg.reply) return;
      try {
        const body: unknown = msg.json();
        if (!validFenceRequest(body)) return;
        const { owners, bucket, revision } = body as FenceRequest;
        const reply: FenceReply = { pending_ms: gate.block(owners, { bucket, revision }), instance };
        msg.respond(JSON.stringify(reply));
      } catch {
        log.warn("fence: unreadable request dropped");
      }
    },
  });
}

/**
 * Asks every instance to stop admitting `owners` and how long grants they already sent may land.
 * An instance that does not answer in time counts as UNANSWERED_PENDING_MS pending.
 */
export class Fence {
  readonly #instances: ResponderCount;

  constructor(
    private readonly nc: NatsConnection,
    serviceName: string,
  ) {
    this.#instances = new ResponderCount(nc, `$SRV.PING.${serviceName}`, { ttlMs: COUNT_TTL_MS, stallMs: 75, maxWaitMs: FENCE_WAIT_MS });
  }

  /** Fences `owners` on every instance until its copy holds `release` (the write that removed them). */
  async raise(owners: readonly string[], release: FenceRelease): Promise<FenceResult> {
    const expected = Math.max(1, await this.#instances.get());
    const result: FenceResult = { answered: expected, expected, pendingMs: 0 };
    for (let i = 0; i < owners.length; i += OWNERS_PER_MESSAGE) {
      const body: FenceRequest = { owners: owners.slice(i, i + OWNERS_PER_MESSAGE), ...release };
      const answered = new Set<string>();
      try {
        // every connection of every instance answers (an instance may hold two): until each instance has
        const replies = await this.nc.requestMany(FENCE_SUBJECT, JSON.stringify(body), { strategy: "stall", stall: FENCE_WAIT_MS, maxWait: FENCE_WAIT_MS });
        for await (const m of replies) {
          const reply: unknown = m.json();
          if (validFenceReply(reply)) {
            answered.add((reply as FenceReply).instance);
            result.pendingMs = Math.max(result.pendingMs, (reply as FenceReply).pending_ms);
          } else result.pendingMs = Math.max(result.pendingMs, UNANSWERED_PENDING_MS);
          if (answered.size >= expected) break;
        }
      } catch {
        // none answered in time: every instance counts as unanswered
      }
      result.answered = Math.min(result.answered, answered.size);
    }
    if (result.answered < expected) {
      result.pendingMs = Math.max(result.pendingMs, UNANSWERED_PENDING_MS);
      void this.#instances.refresh(); // an instance left (or joined): count again
    }
    return result;
  }
}
