import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { adminEndpoints, projectEndpoints } from "../service/api/service.ts";
import { createCurveSeed, encodeJwt, NKeyPair, XKey } from "../service/identity/index.ts";
import { validator } from "../service/contract/validation.ts";
import { bounded } from "./helpers/load.ts";
import { calloutResponder, handOver, type MnqFixture, startMnq } from "./helpers/mnq.ts";

const PER_ENDPOINT = 2000;
const IN_FLIGHT = 50;
const enc = new TextEncoder();

/** True when the service would read the bytes as a body its schema accepts (same rules as parseBody). */
function acceptable(schema: string, bytes: Uint8Array): boolean {
  if (bytes.length > 64 * 1024) return false;
  if (bytes.length === 0) return validator(schema)({});
  try {
    return validator(schema)(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)));
  } catch {
    return false;
  }
}

const anyJson = fc.jsonValue({ maxDepth: 3 });
const weirdString = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.string({ minLength: 65, maxLength: 5000 }),
  fc.constantFrom("", " ", "\u0000", "A".repeat(56), "A" + "a".repeat(55), "../../etc/passwd", "*", ">", "mnq.api.>", "🦀".repeat(40)),
);
const badId = fc.oneof(weirdString, fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));

/** Bodies an endpoint must refuse: not JSON, not UTF-8, not an object, unknown or ill-typed fields, huge. */
function invalidBodies(schemaId: string, fields: string[]): fc.Arbitrary<Uint8Array> {
  const known = fields.length > 0 ? fc.constantFrom(...fields) : fc.constant("name");
  return fc
    .oneof(
      fc.string({ maxLength: 200 }).map((s) => enc.encode(s)),
      fc.uint8Array({ minLength: 1, maxLength: 200 }),
      fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), weirdString, fc.array(anyJson, { maxLength: 4 })).map((v) => enc.encode(JSON.stringify(v))),
      fc.dictionary(weirdString, anyJson, { minKeys: 1, maxKeys: 4 }).map((o) => enc.encode(JSON.stringify(o))),
      fc.dictionary(known, fc.oneof(badId, anyJson), { minKeys: 1, maxKeys: fields.length || 1 }).map((o) => enc.encode(JSON.stringify(o))),
      fc.record({ extra: weirdString, field: known, value: badId }).map(({ extra, field, value }) => enc.encode(JSON.stringify({ [field]: value, [`x-${extra}`]: 1 }))),
      fc.integer({ min: 64 * 1024 + 1, max: 200 * 1024 }).map((n) => enc.encode(JSON.stringify({ name: "x".repeat(n) }))),
    )
    .filter((bytes) => !acceptable(`${schemaId}.request`, bytes));
}

describe("fuzz: malformed and random input", () => {
  let f: MnqFixture;
  let accountId: string;
  const buckets = () => {
    const s = f.mnq.store;
    return Promise.all([s.accounts, s.credentials, s.projects, s.apiKeys, s.credentialKeys, s.quota].map((b) => b.lastSequence()));
  };
  before(async () => {
    f = await startMnq();
    accountId = (await f.api<{ id: string }>("fz", "nats-accounts.create", { name: "target" })).body.id;
    await f.api("fz", "nats-credentials.create", { nats_account_id: accountId });
  });
  after(async () => {
    await f?.stop();
  });

  const healthy = async () => {
    const ping = await f.admin.request("$SRV.PING.mnq", "", { timeout: 2000 });
    assert.equal(ping.json<{ name: string }>().name, "mnq");
    const get = await f.api<{ id: string }>("fz", "nats-accounts.get", { nats_account_id: accountId });
    assert.equal(get.body.id, accountId, "the service still answers");
  };

  const endpoints = [
    ...projectEndpoints.map((e) => ({ subject: (p: string) => `mnq.api.v1.${p}.${e.subject}`, name: e.subject })),
    ...adminEndpoints.map((e) => ({ subject: () => `mnq.admin.v1.${e.subject}`, name: e.subject })),
  ];
  for (const ep of endpoints) {
    test(`fuzz - ${ep.name}: ${PER_ENDPOINT} malformed payloads each get a 4xx in the error shape; KV unchanged`, async () => {
      const schemaId = `urn:mnq:api:${ep.name}`;
      const fields = Object.keys((validator(`${schemaId}.request`).schema as { properties?: object }).properties ?? {});
      const bodies = fc.sample(invalidBodies(schemaId, fields), { numRuns: PER_ENDPOINT, seed: 42 });
      const before = await buckets();
      const errorShape = validator("urn:mnq:api:error.reply");
      const bad: string[] = [];
      await bounded(bodies.length, IN_FLIGHT, async (i) => {
        const m = await f.admin.request(ep.subject("fz"), bodies[i]!, { timeout: 10_000 });
        const code = Number(m.headers?.get("Nats-Service-Error-Code"));
        let body: unknown;
        try {
          body = m.json();
        } catch {
          body = m.string();
        }
        if (!(code >= 400 && code < 500) || !errorShape(body)) bad.push(`${code} ${JSON.stringify(body).slice(0, 120)} for ${Buffer.from(bodies[i]!).toString().slice(0, 80)}`);
      });
      assert.deepEqual(bad.slice(0, 5), [], `${bad.length} replies out of contract`);
      assert.deepEqual(await buckets(), before, "KV holds nothing new");
      await healthy();
    });
  }

  test(`fuzz - project ids in the subject: ${PER_ENDPOINT} invalid ones get 400 naming project_id`, async () => {
    const projects = fc.sample(
      fc.stringMatching(/^[A-Za-z0-9_~-]{1,80}$/).filter((p) => !/^[a-z0-9-]{1,64}$/.test(p)),
      { numRuns: PER_ENDPOINT, seed: 7 },
    );
    const before = await buckets();
    const codes = await bounded(projects.length, IN_FLIGHT, async (i) => {
      const m = await f.admin.request(`mnq.api.v1.${projects[i]}.nats-accounts.create`, "{}", { timeout: 10_000 });
      return `${m.headers?.get("Nats-Service-Error-Code")} ${m.json<{ details?: { argument_name: string }[] }>().details?.[0]?.argument_name}`;
    });
    assert.deepEqual([...new Set(codes)], ["400 project_id"]);
    assert.deepEqual(await buckets(), before);
    await healthy();
  });

  // Clients cannot publish on $SYS.REQ.USER.AUTH (the server refuses it; see callout.test.ts), so
  // the requests go to the responder the service runs, as the server would hand them over.
  test(`fuzz - the auth callout: ${PER_ENDPOINT} malformed authorization requests each get a 400 and no JWT; KV unchanged`, async () => {
    const { responder, trust } = calloutResponder(f);
    const sealer = XKey.fromSeed(createCurveSeed());
    const server = NKeyPair.create("server");
    const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
    const header = b64({ typ: "JWT", alg: "ed25519-nkey" });
    const jwtShaped = fc
      .record({ head: fc.oneof(fc.constant(header), fc.string({ maxLength: 40 })), claims: anyJson, sig: fc.uint8Array({ maxLength: 80 }) })
      .map(({ head, claims, sig }) => `${head}.${b64(claims)}.${Buffer.from(sig).toString("base64url")}`);
    // A well-formed request signed by a server key, over other bytes than it carries.
    const tampered = fc.record({ user: weirdString, pass: weirdString }).map((connect_opts) => {
      const nkey = NKeyPair.create("user").getPublicKey();
      const claims = {
        name: "",
        sub: nkey,
        aud: "nats-authorization-request",         exp: Math.floor(Date.now() / 1000) + 60,
        nats: { type: "authorization_request", server_id: { id: server.getPublicKey(), name: "fz" }, user_nkey: nkey, client_info: {}, connect_opts },
      };
      return encodeJwt(claims, server).replace(/\.[^.]+$/, `.${Buffer.from(server.sign(enc.encode("other"))).toString("base64url")}`);
    });
    const requests = fc.sample(
      fc.record({
        token: fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1")), jwtShaped, tampered),
        seal: fc.boolean(),
      }),
      { numRuns: PER_ENDPOINT, seed: 11 },
    );
    const before = await buckets();
    const outcomes = await bounded(requests.length, IN_FLIGHT, async (i) => {
      const { token, seal } = requests[i]!;
      const r = await handOver(responder, trust, sealer, token, seal);
      return `${r.code ?? "no error"}${r.data.length > 0 ? " with a response" : ""}`;
    });
    assert.deepEqual([...new Set(outcomes)], ["400"]);
    assert.deepEqual(await buckets(), before);
    await healthy();
  });
});
