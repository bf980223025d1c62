import type { Endpoint } from "@nats-io/services";

interface Counts {
  requests: number;
  errors: number;
  /** Nanoseconds, from a request's arrival to its answer. */
  processingNs: number;
  lastError: string | undefined;
}

/** The fields of a `$SRV.STATS` endpoint entry that the services library fills in. */
interface EndpointStatsFields {
  num_requests: number;
  num_errors: number;
  processing_time: number;
  average_processing_time: number;
  last_error?: string;
}

/**
 * `$SRV.STATS` as a caller sees the service: every request counted when it is answered, error
 * replies (4xx and 5xx) counted as errors, and processing time up to the answer. The services
 * library times only the synchronous part of a handler and counts only thrown errors; its
 * `statsHandler` hook (`handler`) writes these figures over its own before each STATS reply.
 */
export class EndpointStats {
  readonly #counts = new Map<string, Counts>();

  /** One answered request of the endpoint named `name`; `error` when the answer was an error reply. */
  record(name: string, startedMs: number, error?: { code: number; description: string }): void {
    let c = this.#counts.get(name);
    if (!c) {
      c = { requests: 0, errors: 0, processingNs: 0, lastError: undefined };
      this.#counts.set(name, c);
    }
    c.requests++;
    c.processingNs += Math.round((performance.now() - startedMs) * 1e6);
    if (error) {
      c.errors++;
      c.lastError = `${error.code} ${error.description}`;
    }
  }

  /** For `Svcm.add({ statsHandler })`. */
  readonly handler = async (endpoint: Endpoint): Promise<null> => {
    // the library hands its own endpoint record: a name and the stats it is about to send
    const { name, stats } = endpoint as Endpoint & { name?: string; stats?: EndpointStatsFields };
    const c = name === undefined ? undefined : this.#counts.get(name);
    if (!stats || !c) return null;
    stats.num_requests = c.requests;
    stats.num_errors = c.errors;
    stats.processing_time = c.processingNs;
    stats.average_processing_time = c.requests > 0 ? Math.round(c.processingNs / c.requests) : 0;
    if (c.lastError !== undefined) stats.last_error = c.lastError;
    return null;
  };
}
