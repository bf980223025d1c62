import type { Account, Export, Import, Operator, Permissions, User } from "@nats-io/jwt";
import { encodeJwt } from "./jwt.ts";
import type { NKeyPair } from "./keys.ts";

const UNLIMITED = -1;

/** Operator JWT: self-signed by the operator identity key; signing keys required for accounts. */
export function operatorJwt(name: string, operator: NKeyPair, signingKeys: string[], systemAccount: string): string {
  const nats: Partial<Operator> & Record<string, unknown> = {
    type: "operator",
    signing_keys: signingKeys,
    system_account: systemAccount,
    strict_signing_key_usage: true,
  };
  return encodeJwt({ name, sub: operator.getPublicKey(), aud: "", nats }, operator);
}

/** JetStream and connection limits of an account JWT, in the JWT's own field names. */
export interface AccountLimits {
  /** JetStream file storage in bytes; 0 disables it, -1 unlimited. */
  disk_storage: number;
  /** JetStream memory storage in bytes; 0 disables it, -1 unlimited. */
  mem_storage: number;
  /** Maximum streams, -1 unlimited. */
  streams: number;
  /** Maximum consumers, -1 unlimited. */
  consumer: number;
  /** Maximum message payload in bytes, -1 unlimited. */
  payload: number;
  /** Maximum client connections, -1 unlimited. */
  conn: number;
  /** Maximum subscriptions over all the account's connections, -1 unlimited. */
  subs: number;
  /**
   * Every stream must set `max_bytes`, and its reservation (× replicas) is checked against the
   * storage limit when it is made: the quota then holds exactly, whatever the write speed.
   */
  max_bytes_required?: boolean;
}

export interface AccountJwtInput {
  name: string;
  account: string;
  signingKeys: string[];
  limits: AccountLimits;
  revocations?: Record<string, number>;
  authorization?: { auth_users: string[]; allowed_accounts: string[]; xkey?: string };
  imports?: Partial<Import>[];
  exports?: Partial<Export>[];
  iat?: number;
}

/** Account JWT signed by the operator (signing) key. */
export function accountJwt(input: AccountJwtInput, operatorSigner: NKeyPair): string {
  const { limits } = input;
  const nats: Partial<Account> & Record<string, unknown> = {
    type: "account",
    signing_keys: input.signingKeys,
    limits: {
      subs: limits.subs,
      data: UNLIMITED,
      payload: limits.payload,
      imports: UNLIMITED,
      exports: UNLIMITED,
      wildcards: true,
      conn: limits.conn,
      leaf: UNLIMITED,
      disk_storage: limits.disk_storage,
      mem_storage: limits.mem_storage,
      streams: limits.streams,
      consumer: limits.consumer,
      ...(limits.max_bytes_required ? { max_bytes_required: true } : {}),
    },
    default_permissions: { pub: {}, sub: {} },
  };
  if (input.revocations && Object.keys(input.revocations).length > 0) nats.revocations = input.revocations;
  if (input.authorization) nats.authorization = input.authorization;
  if (input.imports?.length) nats.imports = input.imports as Import[];
  if (input.exports?.length) nats.exports = input.exports as Export[];
  return encodeJwt({ name: input.name, sub: input.account, aud: "", nats, iat: input.iat }, operatorSigner);
}

export interface UserJwtInput {
  name: string;
  user: string;
  /** The account the user belongs to; set as issuer_account when the signer is a signing key. */
  account: string;
  permissions?: Permissions;
  bearer?: boolean;
  /** Expiry, seconds since the epoch. */
  exp?: number;
  iat?: number;
}

/** User JWT signed by an account signing key, with `issuer_account` set. */
export function userJwt(input: UserJwtInput, accountSigner: NKeyPair): string {
  const nats: Partial<User> & Record<string, unknown> = {
    type: "user",
    pub: input.permissions?.pub ?? {},
    sub: input.permissions?.sub ?? {},
    subs: UNLIMITED,
    data: UNLIMITED,
    payload: UNLIMITED,
  };
  if (input.permissions?.resp) nats.resp = input.permissions.resp;
  if (input.bearer) nats.bearer_token = true;
  if (accountSigner.getPublicKey() !== input.account) nats.issuer_account = input.account;
  const claims = { name: input.name, sub: input.user, aud: "", nats, iat: input.iat, ...(input.exp ? { exp: input.exp } : {}) };
  return encodeJwt(claims, accountSigner);
}

/**
 * Generic claims for `$SYS.REQ.CLAIMS.DELETE`: the accounts to remove. The server wants them
 * self-signed (sub = iss) by a trusted operator key, here the operator signing key.
 */
export function deleteAccountsJwt(accounts: string[], operatorSigner: NKeyPair): string {
  return encodeJwt({ name: "", sub: operatorSigner.getPublicKey(), aud: "", nats: { type: "generic", accounts } }, operatorSigner);
}

/** What an authorization response carries: a user JWT for the connection, or why it is refused. */
export type AuthorizationResult = { jwt: string } | { error: string };

/**
 * The auth callout's answer to a server: sub = the connection's `user_nkey`, aud = the server id,
 * signed by the callout account's signing key (`issuer_account` naming the account).
 */
export function authorizationResponseJwt(
  userNkey: string,
  serverId: string,
  result: AuthorizationResult,
  signer: NKeyPair,
  issuerAccount: string,
): string {
  const nats: Record<string, unknown> = { type: "authorization_response", ...result };
  if (signer.getPublicKey() !== issuerAccount) nats.issuer_account = issuerAccount;
  return encodeJwt({ name: "", sub: userNkey, aud: serverId, nats }, signer);
}
