export { AdmissionGate } from "./gate.ts";
export type { FenceRelease } from "./gate.ts";
export { Fence, FENCE_SUBJECT, serveFence, UNANSWERED_PENDING_MS } from "./fence.ts";
export type { FenceResult } from "./fence.ts";
export { closeAdmittedConnections } from "./revoke.ts";
export type { RevokeDeps, RevokeTarget } from "./revoke.ts";
export { apiKeyOfUserName, apiKeyUserName, credentialUserName } from "./names.ts";
