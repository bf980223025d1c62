/** The error kinds of docs/api.md, each knowing its status and wire body. */
export const ErrorType = {
  invalidArguments: "invalid_arguments",
  permissionsDenied: "permissions_denied",
  notFound: "not_found",
  conflict: "conflict",
  quotasExceeded: "quotas_exceeded",
  internal: "internal",
  unavailable: "unavailable",
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

export type ArgumentReason = "required" | "format" | "constraint" | "unknown";

export interface ArgumentDetail {
  argument_name: string;
  reason: ArgumentReason;
  help_message: string;
}

export type Resource = "nats_account" | "nats_credentials" | "api_key";

/** Base of every error that has a wire shape. Never put a secret in a message. */
export abstract class ApiError extends Error {
  abstract readonly status: number;
  abstract readonly type: ErrorType;

  /** The JSON body of the error reply. */
  body(): Record<string, unknown> {
    return { type: this.type, message: this.message };
  }
}

export class InvalidArgumentsError extends ApiError {
  readonly details: ArgumentDetail[];
  readonly status = 400;
  readonly type = ErrorType.invalidArguments;
  constructor(details: ArgumentDetail[]) {
    super("invalid argument(s)");
    // each help message names its argument first, once: `permissions.publish.allow[0]: …`
    this.details = details.map((d) => (d.help_message.startsWith(d.argument_name) ? d : { ...d, help_message: `${d.argument_name}: ${d.help_message}` }));
    this.name = "InvalidArgumentsError";
  }
  static one(argument_name: string, reason: ArgumentReason, help_message: string): InvalidArgumentsError {
    return new InvalidArgumentsError([{ argument_name, reason, help_message }]);
  }
  override body(): Record<string, unknown> {
    return { ...super.body(), details: this.details };
  }
}

export class PermissionsDeniedError extends ApiError {
  readonly status = 403;
  readonly type = ErrorType.permissionsDenied;
  constructor(readonly resource: string, readonly action: string) {
    super(`permission denied: ${action} on ${resource}`);
    this.name = "PermissionsDeniedError";
  }
  override body(): Record<string, unknown> {
    return { ...super.body(), details: [{ resource: this.resource, action: this.action }] };
  }
}

export class NotFoundError extends ApiError {
  readonly status = 404;
  readonly type = ErrorType.notFound;
  constructor(readonly resource: Resource, readonly resourceId: string) {
    super("resource is not found");
    this.name = "NotFoundError";
  }
  override body(): Record<string, unknown> {
    return { ...super.body(), resource: this.resource, resource_id: this.resourceId };
  }
}

export class ConflictError extends ApiError {
  readonly status = 409;
  readonly type = ErrorType.conflict;
  constructor(message = "the resource was changed concurrently; retry", options?: ErrorOptions) {
    super(message, options);
    this.name = "ConflictError";
  }
}

export interface QuotaDetail {
  resource: string;
  quota: number;
  current: number;
}

export class QuotasExceededError extends ApiError {
  readonly status = 429;
  readonly type = ErrorType.quotasExceeded;
  constructor(readonly details: QuotaDetail[], message?: string) {
    super(message ?? `quota exceeded for ${details.map((d) => d.resource).join(", ")}`);
    this.name = "QuotasExceededError";
  }
  override body(): Record<string, unknown> {
    return { ...super.body(), details: this.details };
  }
}

export class InternalError extends ApiError {
  readonly status = 500;
  readonly type = ErrorType.internal;
  constructor(message = "internal error", options?: ErrorOptions) {
    super(message, options);
    this.name = "InternalError";
  }
}

export class UnavailableError extends ApiError {
  readonly status = 503;
  readonly type = ErrorType.unavailable;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnavailableError";
  }
}
