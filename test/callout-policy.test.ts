import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { fromCurveSeed } from "@nats-io/nkeys";
import { decide, DenyReason, type Facts, nonceSignatureValid, presented } from "../service/callout/index.ts";
import type { AuthorizationRequest } from "../service/callout/index.ts";
import { createCurveSeed, NKeyPair, SecretMac, XKey } from "../service/identity/index.ts";
import type { AccountRecord, ApiKeyRecord } from "../service/store/index.ts";

const te = new TextEncoder();
const MNQ = NKeyPair.create("account").getPublicKey();

function request(connect: AuthorizationRequest["nats"]["connect_opts"], nonce?: string): AuthorizationRequest {
  return {
    iss: "N",
    aud: "nats-authorization-request",
    exp: 0,
    nats: {
      type: "authorization_request",
      server_id: { id: "N" },
      user_nkey: NKeyPair.create("user").getPublicKey(),
      client_info: nonce ? { nonce } : {},
      connect_opts: connect,
    },
  };
}

function account(project: string, extra: Partial<AccountRecord> = {}): AccountRecord {
  const id = NKeyPair.create("account").getPublicKey();
  return {
    id,
    name: "a",
    project_id: project,
    created_at: "",
    updated_at: "",
    seed: "",
    signing_seed: "",
    signing_key: id,
    jwt: "",
    jwt_iat: 0,
    revocations: {},
    state: "active",
    ...extra,
  };
}

/** A key's record; a project key's names its own account (`client`) and carries its sealed signing seed. */
const apiKey = (project: string, client?: AccountRecord): ApiKeyRecord => ({
  access_key: "MNQAAAAAAAAAAAAAAAAA",
  name: "k",
  project_id: project,
  created_at: "",
  secret_hash: "",
  ...(client ? { client_account: client.id, client_signing_seed: "sealed" } : {}),
});

function facts(f: Partial<Facts> & Pick<Facts, "request">): Facts {
  return { presented: presented(f.request), nowSec: 1000, sessionTtlSeconds: 3600, mnqAccount: MNQ, ...f };
}

describe("callout policy", () => {
  test("decide - a project key goes to its own client account with only its API subjects", () => {
    const client = account("p1", { kind: "api-clients" });
    const req = request({ user: "MNQAAAAAAAAAAAAAAAAA", pass: "s" });
    const d = decide(facts({ request: req, apiKey: { record: apiKey("p1", client), secretValid: true } }));
    assert.equal(d.kind, "allow");
    if (d.kind !== "allow") return;
    assert.equal(d.grant.accountId, client.id);
    assert.deepEqual(d.grant.permissions?.pub, { allow: ["mnq.api.v1.p1.>"] });
    assert.deepEqual(d.grant.permissions?.sub, { allow: ["_INBOX.>", "mnq.events.v1.p1.>"] });
    assert.equal(d.grant.exp, 1000 + 3600);
    assert.equal(d.grant.owner, "MNQAAAAAAAAAAAAAAAAA");
    assert.equal(d.grant.name, "api-key-MNQAAAAAAAAAAAAAAAAA");
  });

  test("decide - the admin key goes to MNQ with the admin subjects", () => {
    const req = request({ user: "MNQAAAAAAAAAAAAAAAAA", pass: "s" });
    const d = decide(facts({ request: req, apiKey: { record: apiKey("*"), secretValid: true } }));
    assert.equal(d.kind === "allow" && d.grant.accountId, MNQ);
    assert.deepEqual(d.kind === "allow" && d.grant.permissions?.pub?.allow, ["mnq.api.v1.>", "mnq.admin.v1.>", "$SRV.>"]);
  });

  test("decide - an account or owner a delete has fenced is refused whatever its records say", () => {
    const client = account("p1", { kind: "api-clients" });
    const req = request({ user: "MNQAAAAAAAAAAAAAAAAA", pass: "s" });
    const base = facts({ request: req, apiKey: { record: apiKey("p1", client), secretValid: true } });
    assert.equal(decide({ ...base, fenced: () => false }).kind, "allow");
    assert.deepEqual(decide({ ...base, fenced: (id) => id === client.id }), { kind: "deny", reason: DenyReason.accountGone });
    assert.deepEqual(decide({ ...base, fenced: (id) => id === "MNQAAAAAAAAAAAAAAAAA" }), { kind: "deny", reason: DenyReason.unknownApiKey });
  });

  test("decide - each failure has its reason", () => {
    const key = request({ user: "MNQAAAAAAAAAAAAAAAAA", pass: "s" });
    const nk = request({ nkey: "UX", sig: "s" }, "n");
    const cases: [Facts, DenyReason][] = [
      [facts({ request: request({}) }), DenyReason.noIdentity],
      [facts({ request: key, apiKey: { record: null, secretValid: false } }), DenyReason.unknownApiKey],
      [facts({ request: key, apiKey: { record: apiKey("p1", account("p1", { kind: "api-clients" })), secretValid: false } }), DenyReason.wrongSecret],
      [facts({ request: key, apiKey: { record: apiKey("p1"), secretValid: true } }), DenyReason.noClientAccount],
      [facts({ request: nk, credential: { signatureValid: false, index: null, account: null } }), DenyReason.badSignature],
      [facts({ request: nk, credential: { signatureValid: true, index: null, account: null } }), DenyReason.unknownCredential],
    ];
    const a = account("p1", { state: "deleting" });
    const index = { project_id: "p1", nats_credentials_id: "c", nats_account_id: a.id };
    cases.push([facts({ request: nk, credential: { signatureValid: true, index, account: a } }), DenyReason.accountGone]);
    for (const [f, reason] of cases) assert.deepEqual(decide(f), { kind: "deny", reason });
  });

  test("nonce signature - verifies only the nkey's signature of this nonce", () => {
    const kp = NKeyPair.create("user");
    const sig = (data: string, k = kp) => Buffer.from(k.sign(te.encode(data))).toString("base64url");
    const p = (nonce: string, s: string, nkey = kp.getPublicKey()) => ({ kind: "nkey" as const, nkey, sig: s, nonce });
    assert.equal(nonceSignatureValid(p("abc", sig("abc"))), true);
    assert.equal(nonceSignatureValid(p("abc", Buffer.from(kp.sign(te.encode("abc"))).toString("base64"))), true, "standard base64 too");
    assert.equal(nonceSignatureValid(p("abd", sig("abc"))), false);
    assert.equal(nonceSignatureValid(p("abc", sig("abc", NKeyPair.create("user")))), false);
    assert.equal(nonceSignatureValid(p("", sig(""))), false, "no nonce, no proof");
    assert.equal(nonceSignatureValid(p("abc", "%%%", "not-a-key")), false);
  });

  test("xkey - opens what nkeys seals and seals what nkeys opens", () => {
    const serverSeed = createCurveSeed();
    const server = fromCurveSeed(te.encode(serverSeed));
    const ours = XKey.fromSeed(createCurveSeed());
    const sealed = server.seal(te.encode("request"), ours.publicKey);
    assert.equal(new TextDecoder().decode(ours.open(sealed, server.getPublicKey())!), "request");
    const back = ours.seal(te.encode("response"), server.getPublicKey());
    assert.equal(new TextDecoder().decode(server.open(back, ours.publicKey)!), "response");
    assert.equal(ours.open(sealed, XKey.fromSeed(createCurveSeed()).publicKey), null, "another sender's key does not open it");
    assert.equal(ours.open(te.encode("eyJhbGciOi"), server.getPublicKey()), null);
  });

  test("secrets - an API secret is stored as an HMAC under the master key: only its secret matches, and another master key's does not", () => {
    const mac = new SecretMac(randomBytes(32));
    const stored = mac.digest("s3cret");
    assert.match(stored, /^hmac\$[A-Za-z0-9_-]{43}$/);
    assert.equal(stored.includes("s3cret"), false);
    assert.equal(mac.matches("s3cret", stored), true);
    assert.equal(mac.matches("s3cre", stored), false);
    assert.equal(new SecretMac(randomBytes(32)).matches("s3cret", stored), false);
    assert.equal(mac.matches("s3cret", "hmac$short"), false);
  });
});
