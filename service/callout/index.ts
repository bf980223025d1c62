export { addCalloutEndpoint, CalloutResponder } from "./responder.ts";
export type { CalloutDeps } from "./responder.ts";
export { StandbyCallout } from "./standby.ts";
export { decide, DenyReason, nonceSignatureValid, presented } from "./decide.ts";
export type { Facts } from "./decide.ts";
export { InvalidRequestError, openRequest } from "./request.ts";
export type { AuthorizationRequest } from "./request.ts";
export { ServerKeys } from "./server-keys.ts";
