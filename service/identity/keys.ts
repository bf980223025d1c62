import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as edSign,
  verify as edVerify,
} from "node:crypto";
import { createCurve, type KeyPair, Prefix } from "@nats-io/nkeys";
import { Codec } from "@nats-io/nkeys/lib/codec.js";

// DER prefixes that wrap 32 raw Ed25519 bytes as PKCS8 (private) and SPKI (public).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** The nkey roles mnq signs with or issues. */
export const KeyRole = {
  operator: Prefix.Operator,
  account: Prefix.Account,
  user: Prefix.User,
  server: Prefix.Server,
} as const;
export type KeyRole = keyof typeof KeyRole;

const rolePrefixLetter: Record<KeyRole, string> = { operator: "O", account: "A", user: "U", server: "N" };

const te = new TextEncoder();
const td = new TextDecoder();

/**
 * An Ed25519 nkey pair backed by node:crypto KeyObjects built once.
 * @nats-io/nkeys is pure JS and re-derives the pair on every call (about 90 signs/s);
 * this is the same KeyPair shape at native speed, so jwt.js accepts it too.
 */
export class NKeyPair implements KeyPair {
  readonly #seed: Uint8Array;
  readonly #publicKey: string;
  readonly #private: KeyObject;
  readonly #public: KeyObject;

  private constructor(seed: Uint8Array, publicKey: string, priv: KeyObject, pub: KeyObject) {
    this.#seed = seed;
    this.#publicKey = publicKey;
    this.#private = priv;
    this.#public = pub;
  }

  /** Builds a pair from an encoded nkey seed (`SO…`, `SA…`, `SU…`, `SN…`). */
  static fromSeed(seed: string | Uint8Array, role?: KeyRole): NKeyPair {
    const seedBytes = typeof seed === "string" ? te.encode(seed) : seed;
    let decoded: { prefix: Prefix; buf: Uint8Array };
    try {
      decoded = Codec.decodeSeed(seedBytes);
    } catch {
      throw new Error("not a valid nkey seed");
    }
    if (decoded.prefix === Prefix.Curve) throw new Error("a curve seed cannot sign");
    if (role !== undefined && decoded.prefix !== KeyRole[role]) {
      throw new Error(`expected a seed of role ${role}`);
    }
    const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, decoded.buf]), format: "der", type: "pkcs8" });
    const pub = createPublicKey(priv);
    const rawPub = pub.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
    const publicKey = td.decode(Codec.encode(decoded.prefix, rawPub));
    return new NKeyPair(Uint8Array.from(seedBytes), publicKey, priv, pub);
  }

  /** Makes a fresh random pair of the given role. */
  static create(role: KeyRole): NKeyPair {
    const { privateKey } = generateKeyPairSync("ed25519");
    const raw = privateKey.export({ format: "der", type: "pkcs8" }).subarray(PKCS8_PREFIX.length);
    return NKeyPair.fromSeed(Codec.encodeSeed(KeyRole[role], raw));
  }

  getPublicKey(): string {
    return this.#publicKey;
  }

  getSeed(): Uint8Array {
    return this.#seed;
  }

  /** The seed as a string; handle as a secret. */
  seedString(): string {
    return td.decode(this.#seed);
  }

  getPrivateKey(): Uint8Array {
    throw new Error("the private key is not exported; use the seed");
  }

  sign(input: Uint8Array): Uint8Array {
    return edSign(null, input, this.#private);
  }

  verify(input: Uint8Array, sig: Uint8Array): boolean {
    return edVerify(null, input, this.#public, sig);
  }

  clear(): void {
    this.#seed.fill(0);
  }

  seal(): Uint8Array {
    throw new Error("only curve keys seal");
  }

  open(): Uint8Array | null {
    throw new Error("only curve keys open");
  }
}

const publicKeyCache = new Map<string, KeyObject>();
const PUBLIC_CACHE_MAX = 10_000;

/** A cached node:crypto public key for an encoded nkey public key (`A…`, `U…`, `N…`, `O…`). */
function publicKeyObject(publicKey: string): KeyObject {
  let key = publicKeyCache.get(publicKey);
  if (key) return key;
  const prefix = publicKey.charCodeAt(0);
  const role = (Object.keys(rolePrefixLetter) as KeyRole[]).find((r) => rolePrefixLetter[r].charCodeAt(0) === prefix);
  if (!role) throw new Error("not an nkey public key");
  const raw = Codec.decode(KeyRole[role], te.encode(publicKey));
  key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
  if (publicKeyCache.size >= PUBLIC_CACHE_MAX) publicKeyCache.clear();
  publicKeyCache.set(publicKey, key);
  return key;
}

/** Verifies an Ed25519 signature by an nkey public key; false for any malformed input. */
export function verifySignature(publicKey: string, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    return edVerify(null, data, publicKeyObject(publicKey), sig);
  } catch {
    return false;
  }
}

/** True when `key` is a well-formed public nkey of `role` (prefix and checksum). */
export function isPublicKey(key: unknown, role: KeyRole): key is string {
  if (typeof key !== "string" || key.length !== 56 || key[0] !== rolePrefixLetter[role]) return false;
  try {
    Codec.decode(KeyRole[role], te.encode(key));
    return true;
  } catch {
    return false;
  }
}

export function createCurveSeed(): string {
  return td.decode(createCurve().getSeed());
}
