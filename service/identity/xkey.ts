import { Prefix } from "@nats-io/nkeys";
import { Codec } from "@nats-io/nkeys/lib/codec.js";
import sodium from "sodium-native";
import nacl from "tweetnacl";

const VERSION = new Uint8Array([120, 107, 118, 49]); // "xkv1"
const NONCE_LEN = 24;
const te = new TextEncoder();
const td = new TextDecoder();

/**
 * A curve (x25519) key that opens callout requests sealed to it and seals responses back, in the
 * nkeys `xkv1` format (header, 24-byte nonce, NaCl box). The box key shared with each sender is
 * computed once and kept (tweetnacl): the scalar multiplication dominates the cost of a box, and a
 * server's xkey only changes when it restarts. The box itself is then a secretbox under that key,
 * sealed and opened by libsodium.
 */
export class XKey {
  readonly #secret: Uint8Array;
  readonly publicKey: string;
  readonly #shared = new Map<string, Uint8Array>();

  private constructor(secret: Uint8Array) {
    this.#secret = secret;
    this.publicKey = td.decode(Codec.encode(Prefix.Curve, nacl.scalarMult.base(secret)));
  }

  /** From an encoded curve seed (`SX…`). */
  static fromSeed(seed: string): XKey {
    let decoded: { prefix: Prefix; buf: Uint8Array };
    try {
      decoded = Codec.decodeSeed(te.encode(seed));
    } catch {
      throw new Error("not a valid nkey seed");
    }
    if (decoded.prefix !== Prefix.Curve) throw new Error("expected a curve seed (SX…)");
    return new XKey(Uint8Array.from(decoded.buf));
  }

  /** Opens a message sealed to this key by `sender` (a public curve key); null if it does not open. */
  open(message: Uint8Array, sender: string): Uint8Array | null {
    if (message.length <= VERSION.length + NONCE_LEN) return null;
    for (let i = 0; i < VERSION.length; i++) if (message[i] !== VERSION[i]) return null;
    const key = this.sharedKey(sender);
    if (!key) return null;
    const nonce = message.subarray(VERSION.length, VERSION.length + NONCE_LEN);
    const box = message.subarray(VERSION.length + NONCE_LEN);
    if (box.length < sodium.crypto_secretbox_MACBYTES) return null;
    const out = Buffer.allocUnsafe(box.length - sodium.crypto_secretbox_MACBYTES);
    return sodium.crypto_secretbox_open_easy(out, box, nonce, key) ? out : null;
  }

  /** Seals a message to `recipient` (a public curve key). */
  seal(message: Uint8Array, recipient: string): Uint8Array {
    const key = this.sharedKey(recipient);
    if (!key) throw new Error("not a curve public key");
    const out = Buffer.allocUnsafe(VERSION.length + NONCE_LEN + sodium.crypto_secretbox_MACBYTES + message.length);
    out.set(VERSION, 0);
    const nonce = out.subarray(VERSION.length, VERSION.length + NONCE_LEN);
    sodium.randombytes_buf(nonce);
    sodium.crypto_secretbox_easy(out.subarray(VERSION.length + NONCE_LEN), message, nonce, key);
    return out;
  }

  private sharedKey(peer: string): Uint8Array | null {
    let key = this.#shared.get(peer);
    if (key) return key;
    let raw: Uint8Array;
    try {
      raw = Codec.decode(Prefix.Curve, te.encode(peer));
    } catch {
      return null;
    }
    key = nacl.box.before(raw, this.#secret);
    if (this.#shared.size >= 1024) this.#shared.clear();
    this.#shared.set(peer, key);
    return key;
  }
}
