import type { ServiceMsg } from "@nats-io/services";
import { ApiError, InternalError } from "../contract/errors.ts";
import type { Logger } from "../runtime/log.ts";

/** Sends a JSON reply. */
export function replyJson(msg: ServiceMsg, body: unknown): void {
  msg.respond(JSON.stringify(body));
}

/**
 * Sends an error as the micro framework's headers (`Nats-Service-Error-Code`, `Nats-Service-Error`)
 * plus the docs/api.md JSON body. Anything that is not an ApiError becomes a plain 500: no stack, no detail.
 */
export function replyError(msg: ServiceMsg, err: unknown, log: Logger): { code: number; description: string } {
  const apiErr = err instanceof ApiError ? err : new InternalError();
  if (apiErr.status === 503) {
    // a dependency did not answer, or a count is not over: the caller retries; worth a look when frequent
    log.warn({ err: describe(err), status: apiErr.status }, "request not served now");
  } else if (apiErr.status >= 500) {
    log.error({ err: describe(err), status: apiErr.status }, "request failed");
  } else {
    log.debug({ status: apiErr.status, type: apiErr.type }, "request refused");
  }
  msg.respondError(apiErr.status, apiErr.message, JSON.stringify(apiErr.body()));
  return { code: apiErr.status, description: apiErr.message };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? ` (cause: ${err.cause.name}: ${err.cause.message})` : "";
  return `${err.name}: ${err.message}${cause}`;
}
