import assert from "node:assert/strict";
import { test } from "node:test";
import { createAccount, createUser, fromSeed } from "@nats-io/nkeys";
import { isPublicKey, NKeyPair, SeedVault, verifySignature } from "../service/identity/index.ts";

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

test("vault - a full cache of signing pairs lets go of the one used longest ago, and keeps one in use", () => {
  const vault = new SeedVault(Buffer.alloc(32, 7));
  const sealedOf = (pair: NKeyPair, owner: string) => vault.seal(new TextDecoder().decode(pair.getSeed()), owner);
  const hot = NKeyPair.create("account");
  const hotSealed = sealedOf(hot, "hot");
  const first = vault.signer(hotSealed, "hot", "account");
  const others = Array.from({ length: SeedVault.SIGNERS_MAX }, (_, i) => {
    const pair = NKeyPair.create("account");
    return { owner: `o${i}`, sealed: sealedOf(pair, `o${i}`) };
  });
  const oldest = others[0]!;
  let oldestPair: NKeyPair | undefined;
  for (const [i, o] of others.entries()) {
    const pair = vault.signer(o.sealed, o.owner, "account");
    if (i === 0) oldestPair = pair;
    if (i % 1000 === 0) assert.equal(vault.signer(hotSealed, "hot", "account"), first, "in use: kept");
  }
  assert.equal(vault.signersHeld, SeedVault.SIGNERS_MAX);
  assert.equal(vault.signer(hotSealed, "hot", "account"), first, "the hot pair was never let go");
  // the one used longest ago went when the cache filled: it is opened again, as a new pair
  const again = vault.signer(oldest.sealed, oldest.owner, "account");
  assert.notEqual(again, oldestPair);
  assert.equal(again.getPublicKey(), oldestPair!.getPublicKey());
  assert.equal(vault.signersHeld, SeedVault.SIGNERS_MAX);
});
