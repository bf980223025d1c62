export { createCurveSeed, curveFromSeed, isPublicKey, KeyRole, NKeyPair, verifySignature } from "./keys.ts";
export { decodeJwt, encodeJwt, JwtError, peekClaims } from "./jwt.ts";
export type { UnsignedClaims } from "./jwt.ts";
export { accountJwt, deleteAccountsJwt, operatorJwt, userJwt } from "./claims.ts";
export type { AccountJwtInput, AccountLimits, UserJwtInput } from "./claims.ts";
export { credsChecksum, formatCreds, parseCreds } from "./creds.ts";
export { newMasterKey, parseMasterKey, SeedVault } from "./vault.ts";
