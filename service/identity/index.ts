export { createCurveSeed, isPublicKey, KeyRole, NKeyPair, verifySignature } from "./keys.ts";
export { XKey } from "./xkey.ts";
export { hashSecret, newAccessKey, newSecretKey, SecretChecker, verifySecret } from "./secrets.ts";
export { decodeJwt, encodeJwt, JwtError, peekClaims } from "./jwt.ts";
export type { UnsignedClaims } from "./jwt.ts";
export { accountJwt, authorizationResponseJwt, deleteAccountsJwt, operatorJwt, userJwt } from "./claims.ts";
export type { AccountJwtInput, AccountLimits, AuthorizationResult, UserJwtInput } from "./claims.ts";
export { credsChecksum, formatCreds, parseCreds } from "./creds.ts";
export { newMasterKey, parseMasterKey, SeedVault } from "./vault.ts";
