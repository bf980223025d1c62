import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HMAC_PREFIX = "hmac$";

/** A new access key: `MNQ` and 17 random base32 characters (85 bits). Not a secret. */
export function newAccessKey(): string {
  return `MNQ${Array.from(randomBytes(17), (b) => B32[b & 31]).join("")}`;
}

/** A new secret key: 256 random bits, base64url (43 characters). */
export function newSecretKey(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * API secrets are 256 random bits: no guess can find one, so a slow hash would protect nothing and
 * only cost every first login of a key. They are stored as an HMAC-SHA-256
 * under a key derived from the master key (HKDF), the practice for high-entropy tokens: checking
 * one costs microseconds, and the stored value is worthless without the master key.
 */
export class SecretMac {
  readonly #key: Buffer;

  constructor(masterKey: Buffer) {
    this.#key = Buffer.from(hkdfSync("sha256", masterKey, "mnq", "api-key-secrets", 32));
  }

  /** `hmac$<HMAC-SHA-256 of the secret>`: what an API key record stores. */
  digest(secret: string): string {
    return `${HMAC_PREFIX}${createHmac("sha256", this.#key).update(secret).digest("base64url")}`;
  }

  /** Whether `stored` is this key's digest of `secret` (constant time). */
  matches(secret: string, stored: string): boolean {
    const want = Buffer.from(stored);
    const got = Buffer.from(this.digest(secret));
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
