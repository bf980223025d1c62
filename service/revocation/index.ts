export { AdmissionGate } from "./gate.ts";
export { Fence, serveFence } from "./fence.ts";
export { closeAdmittedConnections } from "./revoke.ts";
export type { RevokeDeps } from "./revoke.ts";
export { apiKeyOfUserName, apiKeyUserName, credentialUserName } from "./user-names.ts";
