export { EndpointStats } from "./endpoint-stats.ts";
export { startObserveServer } from "./http.ts";
export type { ObserveServer } from "./http.ts";
export { Metrics } from "./metrics.ts";
export type { AuthMethod, AuthResult } from "./metrics.ts";
export { Readiness } from "./readiness.ts";

import type { EndpointStats } from "./endpoint-stats.ts";
import type { Metrics } from "./metrics.ts";

/** What handlers report their answers to. */
export interface Observe {
  metrics: Metrics;
  stats: EndpointStats;
}
