import { createHash, createHmac, hkdfSync, randomBytes, scrypt as scryptCb, type ScryptOptions, timingSafeEqual } from "node:crypto";

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/**
 * scrypt cost: about 40 ms per hash, off the event loop (libuv pool). The work is N·r·p; p = 4
 * lanes of N = 4096 take 4 MiB where N = 16384 took 16 MiB for the same time. Memory hardness
 * buys nothing for a 256-bit random secret (no guessing is feasible), while each pool thread's
 * malloc arena keeps the largest block it once held. Hashes keep their parameters, so those made
 * with N = 16384 still verify.
 */
const COST = { N: 4096, r: 8, p: 4 } as const;
const KEY_LEN = 32;

function scrypt(secret: string, salt: Buffer, len: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(secret, salt, len, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** A new access key: `MNQ` and 17 random base32 characters (85 bits). Not a secret. */
export function newAccessKey(): string {
  return `MNQ${Array.from(randomBytes(17), (b) => B32[b & 31]).join("")}`;
}

/** A new secret key: 256 random bits, base64url (43 characters). */
export function newSecretKey(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The first 4 bytes of the secret's SHA-256, kept beside the slow hash: a wrong secret is then
 * refused with one SHA-256 instead of 40 ms of scrypt (a right one still pays scrypt once per
 * instance). It gives away 32 of 256 random bits: guessing the rest stays out of reach.
 */
function tagOf(digest: Buffer): string {
  return digest.subarray(0, 4).toString("base64url");
}

/** `scrypt$N$r$p$salt$hash$tag` of a secret, with a fresh 16-byte salt (see tagOf). */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, KEY_LEN, COST);
  const tag = tagOf(createHash("sha256").update(secret).digest());
  return ["scrypt", COST.N, COST.r, COST.p, salt.toString("base64url"), hash.toString("base64url"), tag].join("$");
}

/**
 * API secrets are 256 random bits: no guess can find one, so a slow hash protects nothing and only
 * costs every first login of a key (300 keys logging in at once after a restart queued behind
 * scrypt on 4 libuv threads past the servers' auth timeout). They are stored as an HMAC-SHA-256
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

  /** Checks a secret against a stored `digest` (constant time), or an earlier version's scrypt hash. */
  async verify(secret: string, stored: string): Promise<boolean> {
    if (!isLegacyHash(stored)) return this.matches(secret, stored);
    return verifySecret(secret, stored);
  }

  /** Whether `stored` is this key's digest of `secret`. */
  matches(secret: string, stored: string): boolean {
    const want = Buffer.from(stored);
    const got = Buffer.from(this.digest(secret));
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

const HMAC_PREFIX = "hmac$";

/** True for a hash an earlier version made (scrypt), which a successful check replaces. */
export function isLegacyHash(stored: string): boolean {
  return !stored.startsWith(HMAC_PREFIX);
}

/**
 * Checks a secret against a scrypt `hashSecret` string (or an earlier version's, without the tag)
 * in constant time; false for any malformed hash.
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if ((parts.length !== 6 && parts.length !== 7) || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4] ?? "", "base64url");
  const want = Buffer.from(parts[5] ?? "", "base64url");
  if (!Number.isInteger(N) || !Number.isInteger(r) || !Number.isInteger(p) || want.length !== KEY_LEN) return false;
  try {
    return timingSafeEqual(await scrypt(secret, salt, KEY_LEN, { N, r, p }), want);
  } catch {
    return false;
  }
}

/**
 * Verifies secrets against stored scrypt hashes, remembering each hash it has seen verified as
 * the SHA-256 of the secret that matched it. Later checks of the same key cost one SHA-256 and a
 * constant-time compare instead of 40 ms of scrypt: the slow hash protects the stored value, and a
 * 256-bit random secret needs no slowing down in memory. Checks of the same secret against the same
 * hash made while one is running share its scrypt: a burst of clients with a key the instance has
 * not seen yet costs one hash, not one each (each takes 16 MiB and a libuv thread for 40 ms).
 */
export class SecretChecker {
  readonly #verified = new Map<string, Buffer>();
  readonly #running = new Map<string, Promise<boolean>>();

  /** @param mac checks HMAC digests (every key made now); scrypt hashes of earlier versions are checked and remembered as below */
  constructor(
    private readonly mac?: SecretMac,
    private readonly maxEntries = 10_000,
  ) {}

  /**
   * True when checking `secret` would start a scrypt: the hash was never verified here, its tag
   * (when it has one) matches, and no check of the same secret is running. The caller may refuse
   * to spend that on a source that keeps failing; a secret this says false for costs nothing.
   */
  needsHash(secret: string, stored: string): boolean {
    if (!isLegacyHash(stored) || this.#verified.has(stored)) return false;
    const digest = createHash("sha256").update(secret).digest();
    if (!tagMatches(stored, digest)) return false;
    return !this.#running.has(`${stored}\n${digest.toString("base64")}`);
  }

  async check(secret: string, stored: string): Promise<boolean> {
    if (!isLegacyHash(stored)) return this.mac?.matches(secret, stored) ?? false;
    const digest = createHash("sha256").update(secret).digest();
    const known = this.#verified.get(stored);
    if (known) return timingSafeEqual(known, digest);
    if (!tagMatches(stored, digest)) return false;
    const key = `${stored}\n${digest.toString("base64")}`;
    let running = this.#running.get(key);
    if (!running) {
      running = verifySecret(secret, stored).finally(() => this.#running.delete(key));
      this.#running.set(key, running);
    }
    if (!(await running)) return false;
    if (this.#verified.size >= this.maxEntries) this.#verified.clear();
    this.#verified.set(stored, digest);
    return true;
  }
}

/** False when the hash has a tag and the secret's digest does not match it (no scrypt needed). */
function tagMatches(stored: string, digest: Buffer): boolean {
  const parts = stored.split("$");
  if (parts.length !== 7) return true;
  const want = Buffer.from(parts[6] ?? "", "base64url");
  const got = digest.subarray(0, 4);
  return want.length === got.length && timingSafeEqual(want, got);
}
