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
    // A JWK import is ~10x faster than a PKCS8 one (no OpenSSL decoder). Node builds the private
    // key from `d` alone; `x` must be a string but is not used, the public half is derived below.
    const priv = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: Buffer.from(decoded.buf).toString("base64url"), x: "" }, format: "jwk" });
    const pub = createPublicKey(priv);
    const rawPub = Buffer.from(pub.export({ format: "jwk" }).x ?? "", "base64url");
    const publicKey = td.decode(Codec.encode(decoded.prefix, rawPub));
    return new NKeyPair(Uint8Array.from(seedBytes), publicKey, priv, pub);
  }

  /** Makes a fresh random pair of the given role. */
  static create(role: KeyRole): NKeyPair {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const raw = Buffer.from(privateKey.export({ format: "jwk" }).d ?? "", "base64url");
    const rawPub = Buffer.from(publicKey.export({ format: "jwk" }).x ?? "", "base64url");
    const seed = Codec.encodeSeed(KeyRole[role], raw);
    return new NKeyPair(seed, td.decode(Codec.encode(KeyRole[role], rawPub)), privateKey, publicKey);
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
  key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
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
