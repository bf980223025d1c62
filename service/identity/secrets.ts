import { createHash, randomBytes, scrypt as scryptCb, type ScryptOptions, timingSafeEqual } from "node:crypto";

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** scrypt cost: about 40 ms and 16 MiB per hash, off the event loop (libuv pool). */
const COST = { N: 16384, r: 8, p: 1 } as const;
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

/** `scrypt$N$r$p$salt$hash` of a secret, with a fresh 16-byte salt. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, KEY_LEN, COST);
  return ["scrypt", COST.N, COST.r, COST.p, salt.toString("base64url"), hash.toString("base64url")].join("$");
}

/** Checks a secret against a `hashSecret` string in constant time; false for any malformed hash. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
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
 * 256-bit random secret needs no slowing down in memory.
 */
export class SecretChecker {
  readonly #verified = new Map<string, Buffer>();

  constructor(private readonly maxEntries = 10_000) {}

  async check(secret: string, stored: string): Promise<boolean> {
    const digest = createHash("sha256").update(secret).digest();
    const known = this.#verified.get(stored);
    if (known) return timingSafeEqual(known, digest);
    if (!(await verifySecret(secret, stored))) return false;
    if (this.#verified.size >= this.maxEntries) this.#verified.clear();
    this.#verified.set(stored, digest);
    return true;
  }
}
