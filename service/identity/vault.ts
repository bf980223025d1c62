import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { type KeyRole, NKeyPair } from "./keys.ts";

const VERSION = "v1";

/**
 * Encrypts tenant seeds at rest with AES-256-GCM under the master key.
 * The owner's id is bound as additional data, so a sealed seed cannot be moved to another record.
 */
export class SeedVault {
  readonly #key: Buffer;
  /**
   * Signing pairs opened once: `<owner> <sealed seed>` → pair, least recently used first. Bounded:
   * when full, the pair used longest ago goes (a hot account's pair stays, where emptying the map
   * made every account pay an opening again).
   */
  readonly #signers = new Map<string, NKeyPair>();
  static readonly SIGNERS_MAX = 10_000;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error("the master key must be 32 bytes");
    this.#key = Buffer.from(masterKey);
  }

  seal(seed: string, owner: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(owner));
    const data = Buffer.concat([cipher.update(seed, "utf8"), cipher.final()]);
    return [VERSION, iv.toString("base64url"), data.toString("base64url"), cipher.getAuthTag().toString("base64url")].join(".");
  }

  /** The signing pair of a sealed seed, opened on first use and kept (hot paths sign with it). */
  signer(sealed: string, owner: string, role: KeyRole): NKeyPair {
    const cacheKey = `${owner} ${sealed}`;
    let pair = this.#signers.get(cacheKey);
    if (pair) {
      this.#signers.delete(cacheKey); // to the back: used last
    } else {
      pair = NKeyPair.fromSeed(this.open(sealed, owner), role);
      if (this.#signers.size >= SeedVault.SIGNERS_MAX) this.#signers.delete(this.#signers.keys().next().value as string);
    }
    this.#signers.set(cacheKey, pair);
    return pair;
  }

  /** How many signing pairs are held open (at most SIGNERS_MAX). */
  get signersHeld(): number {
    return this.#signers.size;
  }

  open(sealed: string, owner: string): string {
    const [version, iv, data, tag] = sealed.split(".");
    if (version !== VERSION || !iv || !data || !tag) throw new Error("sealed seed has an unknown format");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64url"));
    decipher.setAAD(Buffer.from(owner));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    try {
      return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
    } catch {
      throw new Error("sealed seed does not open with this master key");
    }
  }
}

/** Parses a master key given as 64 hex characters or 43/44 base64 characters. */
export function parseMasterKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== 32) throw new Error("the master key must be 32 bytes, as 64 hex or base64 characters");
  return key;
}

export function newMasterKey(): string {
  return randomBytes(32).toString("hex");
}
