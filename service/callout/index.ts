export { addCalloutEndpoint, CALLOUT_SUBJECT, CalloutResponder } from "./responder.ts";
export type { CalloutDeps } from "./responder.ts";
export { decide, DenyReason, identityOf, nonceSignatureValid, presented } from "./decide.ts";
export type { Decision, Facts, Grant, Presented } from "./decide.ts";
export { InvalidRequestError, openRequest, REQUEST_AUDIENCE, SERVER_XKEY_HEADER } from "./request.ts";
export type { AuthorizationRequest, OpenedRequest } from "./request.ts";
export { DEFAULT_THROTTLE, Throttle } from "./throttle.ts";
export type { ThrottleOptions } from "./throttle.ts";
export { ServerKeys } from "./server-keys.ts";
