import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidRequestError, openRequest, ServerKeys } from "../service/callout/index.ts";
import { createCurveSeed, encodeJwt, NKeyPair, XKey } from "../service/identity/index.ts";

/** A server as the callout sees it: an identity key and the curve key it seals requests with. */
function fakeServer() {
  const id = NKeyPair.create("server");
  const xkey = XKey.fromSeed(createCurveSeed());
  return { id, xkey };
}

const service = XKey.fromSeed(createCurveSeed());
const nowSec = Math.floor(Date.now() / 1000);

/** A request claiming to come from `claimed` (with `claimed.xkey` in its claims), signed by `signer`. */
function request(claimed: ReturnType<typeof fakeServer>, signer: NKeyPair, nameXkey = true): string {
  const user = NKeyPair.create("user").getPublicKey();
  const token = encodeJwt(
    {
      name: "",
      sub: user,
      aud: "nats-authorization-request",
      exp: nowSec + 2,
      nats: {
        type: "authorization_request",
        server_id: { id: claimed.id.getPublicKey(), name: "s", ...(nameXkey ? { xkey: claimed.xkey.publicKey } : {}) },
        user_nkey: user,
        client_info: {},
        connect_opts: { user: "MNQAAAAAAAAAAAAAAAAA", pass: "x" },
      },
    },
    signer,
  );
  // the real signature is replaced when `signer` is not the claimed server: encodeJwt sets iss to
  // the signer, so forge iss back to the claimed server and keep the signer's signature
  if (signer === claimed.id) return token;
  const [h, b, s] = token.split(".");
  const claims = JSON.parse(Buffer.from(b!, "base64url").toString());
  claims.iss = claimed.id.getPublicKey();
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`;
}

const sealed = (from: ReturnType<typeof fakeServer>, token: string) => from.xkey.seal(new TextEncoder().encode(token), service.publicKey);
const open = (from: ReturnType<typeof fakeServer>, token: string, serverKeys: ServerKeys) =>
  openRequest(sealed(from, token), from.xkey.publicKey, { xkey: service, sealed: true, nowSec, serverKeys });

describe("callout request - server curve keys pinned by verified requests", () => {
  test("callout request - a forged signature is refused while the server's curve key is not pinned", () => {
    const s = fakeServer();
    assert.throws(() => open(s, request(s, NKeyPair.create("server")), new ServerKeys()), InvalidRequestError);
  });

  test("callout request - a verified request naming its curve key pins it; later requests under that key skip the signature", () => {
    const s = fakeServer();
    const keys = new ServerKeys();
    open(s, request(s, s.id), keys);
    assert.equal(keys.serverOf(s.xkey.publicKey), s.id.getPublicKey());
    // sealed under the pinned key: the box proves the origin, the signature is not needed
    assert.equal(open(s, request(s, NKeyPair.create("server")), keys).claims.iss, s.id.getPublicKey());
  });

  test("callout request - a pinned key vouches only for its own server: another issuer under it is verified in full", () => {
    const s = fakeServer();
    const keys = new ServerKeys();
    open(s, request(s, s.id), keys);
    const other = { id: NKeyPair.create("server"), xkey: s.xkey };
    assert.throws(() => open(other, request(other, NKeyPair.create("server")), keys), InvalidRequestError);
  });

  test("callout request - a request whose claims do not name the curve key pins nothing", () => {
    const s = fakeServer();
    const keys = new ServerKeys();
    open(s, request(s, s.id, false), keys);
    assert.equal(keys.size, 0);
    assert.throws(() => open(s, request(s, NKeyPair.create("server"), false), keys), InvalidRequestError);
  });
});
