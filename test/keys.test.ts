import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount, createUser, fromSeed } from "@nats-io/nkeys";
import { isPublicKey, NKeyPair, verifySignature } from "../service/identity/index.ts";

const te = new TextEncoder();

test("keys - a pair built from an nkeys seed has the same public key and signs what nkeys verifies", () => {
  const theirs = createUser();
  const ours = NKeyPair.fromSeed(theirs.getSeed(), "user");
  assert.equal(ours.getPublicKey(), theirs.getPublicKey());
  const data = te.encode("nonce-1234");
  assert.ok(theirs.verify(data, ours.sign(data)));
  assert.ok(ours.verify(data, theirs.sign(data)));
  assert.ok(verifySignature(theirs.getPublicKey(), data, ours.sign(data)));
});

test("keys - a created pair's seed is read back by nkeys as the same key", () => {
  const ours = NKeyPair.create("account");
  const theirs = fromSeed(ours.getSeed());
  assert.equal(theirs.getPublicKey(), ours.getPublicKey());
  assert.ok(isPublicKey(ours.getPublicKey(), "account"));
  const data = te.encode("claims");
  assert.ok(theirs.verify(data, ours.sign(data)));
});

test("keys - a seed of another role, a curve seed or garbage is refused", () => {
  assert.throws(() => NKeyPair.fromSeed(createAccount().getSeed(), "user"), /role user/);
  assert.throws(() => NKeyPair.fromSeed("SUNOTASEED"), /not a valid nkey seed/);
  assert.equal(verifySignature("UNOTAKEY", te.encode("x"), new Uint8Array(64)), false);
});
