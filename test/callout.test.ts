import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection, Authenticator } from "@nats-io/nats-core";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import type { BootstrapOptions } from "../service/bootstrap/index.ts";
import { DataFile } from "../service/bootstrap/index.ts";
import { decodeJwt, encodeJwt, NKeyPair, parseCreds, XKey } from "../service/identity/index.ts";
import { createCurveSeed } from "../service/identity/index.ts";
import { validator } from "../service/contract/validation.ts";
import { Store } from "../service/store/index.ts";
import { check, closedWithin } from "./helpers/check.ts";
import { bounded } from "./helpers/load.ts";
import { assertReplySchema, authRequest, callApi, calloutResponder, connectWithCreds, handOver, type MnqFixture, nkeyRequest, startMnq } from "./helpers/mnq.ts";
import { connectionsOfSuite } from "./helpers/connections.ts";

type Key = { access_key: string; secret_key: string; project_id: string };
type Creds = { id: string; nats_account_id: string; credentials: { content: string } };
type UserInfo = { data: { user: string; account: string; expires?: string } };

/** The callout behaviours, run against one server per environment (xkey on and off). */
function calloutSuite(env: string, boot: BootstrapOptions) {
  describe(`auth callout (${env})`, () => {
    let f: MnqFixture;
    let admin: Key;
    let adminNc: NatsConnection;
    const open = connectionsOfSuite();
    before(async () => {
      f = await startMnq({}, boot);
      admin = JSON.parse(readFileSync(join(f.dataDir, DataFile.adminApiKey), "utf8")) as Key;
      adminNc = await userPass(admin);
    });
    after(async () => {
      await open.closeAll();
      await f.stop();
    });

    const userPass = async (k: { access_key: string; secret_key: string }, opts: Record<string, unknown> = {}) => {
      const nc = await connect({ servers: f.server.url, user: k.access_key, pass: k.secret_key, reconnect: false, ...opts });
      open.keep(nc);
      return nc;
    };
    const withNkey = async (seed: string, opts: Record<string, unknown> = {}) => {
      const nc = await connect({ servers: f.server.url, authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)), reconnect: false, ...opts });
      open.keep(nc);
      return nc;
    };
    const projectKey = async (project: string) => {
      const r = await callApi<Key>(adminNc, "mnq.admin.v1.api-keys.create", { project_id: project });
      assert.equal(r.code, undefined, r.message);
      return r.body;
    };
    const accountWithCreds = async (project: string) => {
      const a = (await f.api<{ id: string }>(project, "nats-accounts.create", {})).body;
      const c = (await f.api<Creds>(project, "nats-credentials.create", { nats_account_id: a.id })).body;
      return { account: a.id, creds: c, seed: parseCreds(c.credentials.content).seed };
    };
    const refused = async (connecting: Promise<unknown>) => {
      await assert.rejects(connecting, (err: Error) => /authorization/i.test(err.message));
    };
    const info = async (nc: NatsConnection) => (await nc.request("$SYS.REQ.USER.INFO", "")).json<UserInfo>().data;
    /** The connections every server lists for the user name the callout gave them (CONNZ). */
    const listed = async (account: string, name: string) => (await f.mnq.revoke.connections.find(account, new Set([name]))).length;

    test("api keys - the admin key is written 0600 on first start and may create project keys", async () => {
      const mode = statSync(join(f.dataDir, DataFile.adminApiKey)).mode & 0o777;
      assert.equal(mode, 0o600);
      const r = await callApi<Key>(adminNc, "mnq.admin.v1.api-keys.create", { project_id: "cb-admin", name: "ci" });
      assert.equal(r.code, undefined);
      assertReplySchema("api-keys.create", r.body);
      const list = await callApi<{ total_count: number; api_keys: Key[] }>(adminNc, "mnq.admin.v1.api-keys.list", { project_id: "cb-admin" });
      assertReplySchema("api-keys.list", list.body);
      assert.deepEqual(list.body.api_keys.map((k) => k.access_key), [r.body.access_key]);
      assert.equal(JSON.stringify(list.body).includes(r.body.secret_key), false, "list never shows a secret");
    });

    test("api keys - a key lands in an account of its own, which its record names", async () => {
      const k = await projectKey("cb-client");
      const rec = (await f.mnq.store.apiKeys.get(Store.apiKeyKey("cb-client", k.access_key)))!;
      const own = (await f.mnq.store.accounts.get(Store.accountKey("cb-client", rec.value.client_account!)))?.value;
      assert.deepEqual([own?.kind, own?.access_key], ["api-clients", k.access_key], "the key's own account");
      // a call reaches the API only through the account's import
      const nc = await userPass(k);
      const r = await callApi(nc, "mnq.api.v1.cb-client.nats-accounts.list", "{}");
      assert.equal(r.code, undefined, r.message);
      assert.equal(await listed(own!.id, `api-key-${k.access_key}`), 1, "the connection is in that account");
    });

    test("api keys - the docs/api.md example: user and password alone create an account in the key's project", async () => {
      const nc = await userPass(await projectKey("my-project"));
      const r = await callApi<{ id: string; project_id: string }>(nc, "mnq.api.v1.my-project.nats-accounts.create", '{"name":"orders"}');
      assert.equal(r.code, undefined, r.message);
      assertReplySchema("nats-accounts.create", r.body);
      assert.equal(r.body.project_id, "my-project");
    });

    test("api keys - a project key cannot publish to another project or the admin subjects", async () => {
      const nc = await userPass(await projectKey("cb-tenant-a"));
      for (const subject of ["mnq.api.v1.cb-tenant-b.nats-accounts.list", "mnq.admin.v1.api-keys.list"]) {
        await assert.rejects(nc.request(subject, "{}", { timeout: 2000 }), (err: Error) => /permission|no responders/i.test(`${err.message} ${String(err.cause)}`));
      }
      // and the connection is still usable for its own project
      assert.equal((await callApi(nc, "mnq.api.v1.cb-tenant-a.nats-accounts.list")).code, undefined);
    });

    test("api keys - a project key cannot subscribe to mnq.api.> or $SYS.>", async () => {
      const nc = await userPass(await projectKey("cb-subs"));
      for (const subject of ["mnq.api.>", "$SYS.>"]) {
        const sub = nc.subscribe(subject);
        const err = await sub.closed;
        assert.ok(err instanceof Error && /permission/i.test(err.message), `subscribe ${subject} refused`);
      }
    });

    test("api keys - one project's key never sees another project's replies on _INBOX.>", async () => {
      const spy = await userPass(await projectKey("cb-spy"));
      const seen: string[] = [];
      const sub = spy.subscribe("_INBOX.>", { callback: (_e, m) => void seen.push(m.subject) });
      await spy.flush();
      const victim = await userPass(await projectKey("cb-victim"));
      const a = await callApi<{ id: string }>(victim, "mnq.api.v1.cb-victim.nats-accounts.create", {});
      const c = await callApi<Creds>(victim, "mnq.api.v1.cb-victim.nats-credentials.create", { nats_account_id: a.body.id });
      assert.ok(c.body.credentials.content.length > 0);
      await spy.flush();
      assert.deepEqual(seen, []);
      sub.unsubscribe();
    });

    test("api keys - a project key receives its project's events", async () => {
      const nc = await userPass(await projectKey("cb-events"));
      const got: string[] = [];
      const sub = nc.subscribe("mnq.events.v1.cb-events.>", { callback: (err, m) => void got.push(err ? err.message : m.subject) });
      await nc.flush();
      f.mnq.nc.publish("mnq.events.v1.cb-other.nats-accounts.quota", "{}");
      f.mnq.nc.publish("mnq.events.v1.cb-events.nats-accounts.quota", "{}");
      await f.mnq.nc.flush();
      await check(() => got.length > 0);
      await nc.flush();
      assert.deepEqual(got, ["mnq.events.v1.cb-events.nats-accounts.quota"]);
      sub.unsubscribe();
    });

    test("api keys - a deleted key is refused and its connections are closed", async () => {
      const key = await projectKey("cb-deleted");
      const nc = await userPass(key);
      const closing = closedWithin(nc, 1000);
      const r = await callApi(adminNc, "mnq.admin.v1.api-keys.delete", { access_key: key.access_key });
      assert.equal(r.code, undefined);
      await closing;
      await refused(userPass(key));
      const again = await callApi<{ type: string; resource: string }>(adminNc, "mnq.admin.v1.api-keys.delete", { access_key: key.access_key });
      assert.equal(again.code, 404);
      assert.equal(again.body.resource, "api_key");
    });

    test("api keys - wrong password, unknown user and a pattern for a user are refused, and the service keeps serving", async () => {
      const key = await projectKey("cb-wrong");
      await refused(userPass({ access_key: key.access_key, secret_key: "not-the-secret" }));
      await refused(userPass({ access_key: "MNQAAAAAAAAAAAAAAAAA", secret_key: key.secret_key }));
      await refused(userPass({ access_key: "", secret_key: "" }));
      // a user name that is a subject pattern names no key, even with a key's secret
      for (const pattern of [">", "*", `${key.access_key}.*`, `${key.access_key.slice(0, 8)}*`]) await refused(userPass({ access_key: pattern, secret_key: key.secret_key }));
      const nc = await userPass(key);
      assert.equal((await callApi(nc, "mnq.api.v1.cb-wrong.nats-accounts.list")).code, undefined);
    });

    test("nkeys - a credential's nkey connects into its account and talks with a creds-file client", async () => {
      const { account, creds, seed } = await accountWithCreds("cb-nkey");
      const nk = await withNkey(seed);
      assert.equal(await listed(account, `nats-credentials-${creds.id}`), 1, "the server lists it under the credential's name");
      const me = await info(nk);
      assert.equal(me.account, account);
      assert.ok(me.expires, "the session JWT expires");
      const file = await connectWithCreds(f.server.url, creds.credentials.content, { reconnect: false });
      open.keep(file);
      const sub = file.subscribe("orders.>", { max: 1 });
      await file.flush();
      nk.publish("orders.new", "hello");
      for await (const m of sub) assert.equal(m.string(), "hello");
      const echo = nk.subscribe("replies", { max: 1 });
      await nk.flush();
      file.publish("replies", "back");
      for await (const m of echo) assert.equal(m.string(), "back");
    });

    test("nkeys - deleting the credential closes its nkey connections within 1 s, and the seed is refused", async () => {
      const { account, creds, seed } = await accountWithCreds("cb-revoke");
      const conns = await Promise.all([withNkey(seed), withNkey(seed)]);
      const closing = Promise.all(conns.map((nc) => closedWithin(nc, 1000)));
      const r = await f.api("cb-revoke", "nats-credentials.delete", { nats_credentials_id: creds.id });
      assert.equal(r.code, undefined);
      await closing;
      await refused(withNkey(seed));
      assert.equal(await listed(account, `nats-credentials-${creds.id}`), 0, "no connection of it is left on the server");
    });

    test("nkeys - deleting the account closes its nkey connections", async () => {
      const { account, seed } = await accountWithCreds("cb-acc-delete");
      const nc = await withNkey(seed);
      const closing = closedWithin(nc, 2000);
      assert.equal((await f.api("cb-acc-delete", "nats-accounts.delete", { nats_account_id: account })).code, undefined);
      await closing;
      await refused(withNkey(seed));
    });

    test("nkeys - a signature over another nonce, or by another key, is refused", async () => {
      const { seed } = await accountWithCreds("cb-badsig");
      const kp = NKeyPair.fromSeed(seed, "user");
      const wrongNonce: Authenticator = () => ({ nkey: kp.getPublicKey(), sig: Buffer.from(kp.sign(Buffer.from("not-the-nonce"))).toString("base64url") });
      await refused(connect({ servers: f.server.url, authenticator: wrongNonce, reconnect: false }));
      const other = NKeyPair.create("user");
      const otherKey: Authenticator = (nonce?: string) => ({ nkey: kp.getPublicKey(), sig: Buffer.from(other.sign(Buffer.from(nonce ?? ""))).toString("base64url") });
      await refused(connect({ servers: f.server.url, authenticator: otherKey, reconnect: false }));
      await refused(withNkey(NKeyPair.create("user").seedString()));
    });

    test("callout - nats micro info names the callout endpoint's request and response schemas", async () => {
      const infos: { endpoints: { name: string; metadata?: Record<string, string> }[] }[] = [];
      for await (const m of await f.admin.requestMany("$SRV.INFO.mnq", "", { strategy: "count", maxMessages: 1, maxWait: 5000 })) infos.push(m.json());
      const ep = infos[0]!.endpoints.find((e) => e.name === "auth-callout");
      assert.deepEqual([ep?.metadata?.request_schema, ep?.metadata?.response_schema], ["urn:mnq:callout:authorization-request", "urn:mnq:callout:authorization-response"]);
      for (const id of [ep!.metadata!.request_schema!, ep!.metadata!.response_schema!]) assert.ok(validator(id), `${id} is a schema of schemas/`);
    });

    test("callout - clients cannot publish authorization requests, not even the service's own users", async () => {
      const svc = await connectWithCreds(f.server.url, readFileSync(join(f.dataDir, DataFile.serviceCreds), "utf8"));
      open.keep(svc);
      await assert.rejects(svc.request("$SYS.REQ.USER.AUTH", "x", { timeout: 2000 }), (err: Error) => /permission/i.test(err.message));
    });

    test("callout - 300 API keys logging in for the first time all at once: none refused (secrets are HMACs, checked in microseconds)", async (t) => {
      const keys = await bounded(300, 20, () => projectKey("cb-first-logins"));
      const started = performance.now();
      const outcomes = await Promise.all(
        keys.map((k) =>
          connect({ servers: f.server.url, user: k.access_key, pass: k.secret_key, reconnect: false, timeout: 10_000 }).then(
            (nc) => nc.close().then(() => "ok"),
            (err: Error) => err.message,
          ),
        ),
      );
      t.diagnostic(`300 first logins in ${(performance.now() - started).toFixed(0)} ms`);
      assert.deepEqual(outcomes.filter((o) => o !== "ok").slice(0, 3), []);
      const stored = (await f.mnq.views.apiKeys.find(Store.apiKeyPattern(keys[0]!.access_key)));
      assert.match(stored!.value.secret_hash, /^hmac\$/);
    });

    test("callout - no identity mnq issues can put a request where the callout answers: admin creds, creds files, nkeys, project and admin API keys", async () => {
      const { creds, seed } = await accountWithCreds("cb-no-forge");
      const clients: [string, NatsConnection][] = [
        ["admin.creds", f.admin],
        ["a creds file", await connectWithCreds(f.server.url, creds.credentials.content)],
        ["a credential's nkey", await withNkey(seed)],
        ["a project API key", await userPass(await projectKey("cb-no-forge"))],
        ["the admin API key", adminNc],
      ];
      // an unreadable request that reached the responder would be counted as an error of method none
      const unreadable = async () =>
        (await f.mnq.observe.metrics.text()).split("\n").find((l) => l.startsWith('mnq_auth_requests_total{method="none",result="error"}'))?.split(" ").pop() ?? "0";
      const before = await unreadable();
      for (const [who, nc] of clients) {
        // refused by the server (MNQ users) or published in the client's own account, where nothing answers
        await assert.rejects(nc.request("$SYS.REQ.USER.AUTH", "x", { timeout: 1000 }), (err: Error) => /permission|no responders|timeout/i.test(err.message), who);
      }
      assert.equal(await unreadable(), before, "no request reached the callout");
    });

    test("callout - a fenced credential is refused even while the instance's copy still shows it, and the fence learns of grants already sent", async () => {
      const { seed } = await accountWithCreds("cb-race");
      const kp = NKeyPair.fromSeed(seed, "user");
      const { responder, trust } = calloutResponder(f);
      const gate = f.mnq.calloutDeps.gate;
      const sealer = XKey.fromSeed(createCurveSeed());
      const ask = () => handOver(responder, trust, sealer, nkeyRequest(kp));
      const outcome = (r: { code?: number; data: Uint8Array }) => {
        const opened = trust.calloutSealed ? new TextDecoder().decode(sealer.open(r.data, trust.xkey.publicKey)!) : new TextDecoder().decode(r.data);
        return decodeJwt<{ jwt?: string; error?: string }>(opened).nats;
      };
      const before = await ask();
      assert.equal(before.code, undefined);
      assert.ok(outcome(before).jwt, "admitted while the credential exists");
      // A delete's fence reaches the instance before its copy of KV shows the delete (here: never).
      const pending = gate.block([kp.getPublicKey()], { bucket: "mnq-credential-keys", revision: Number.MAX_SAFE_INTEGER });
      assert.ok(pending >= 2000, `the grant just sent may still be acted on for the server's auth timeout (${pending} ms)`);
      assert.ok(f.mnq.views.credentialKeys.held(kp.getPublicKey()), "the copy still shows the credential");
      const after = await ask();
      assert.equal(after.code, 401);
      assert.equal(outcome(after).jwt, undefined);
      assert.match(outcome(after).error ?? "", /deleted credentials/);
    });

    test("callout - an nkey whose nonce signature does not verify, or that is no user key (a subject pattern), is denied without a JWT", async () => {
      const { seed } = await accountWithCreds("cb-badsig");
      const kp = NKeyPair.fromSeed(seed, "user");
      const other = NKeyPair.create("user");
      const { responder, trust } = calloutResponder(f);
      const sealer = XKey.fromSeed(createCurveSeed());
      const nonce = "a-nonce-of-the-server";
      const signed = (by: NKeyPair) => Buffer.from(by.sign(Buffer.from(nonce))).toString("base64url");
      const error = (r: { code?: number; data: Uint8Array }) => {
        const opened = trust.calloutSealed ? new TextDecoder().decode(sealer.open(r.data, trust.xkey.publicKey)!) : new TextDecoder().decode(r.data);
        return decodeJwt<{ jwt?: string; error?: string }>(opened).nats;
      };
      // the credential's record is read while the signature is checked: the check still decides
      for (const nkey of [kp.getPublicKey(), ">", "*", `${kp.getPublicKey().slice(0, 20)}*`]) {
        const r = await handOver(responder, trust, sealer, authRequest({ nkey, sig: signed(other) }, { nonce }));
        assert.equal(r.code, 401, nkey);
        assert.equal(error(r).jwt, undefined, nkey);
        assert.equal(error(r).error, "nkey signature does not verify", nkey);
      }
      assert.equal((await handOver(responder, trust, sealer, authRequest({ nkey: kp.getPublicKey(), sig: signed(kp) }, { nonce }))).code, undefined, "signed by its key: admitted");
    });

    test("callout - requests not signed by the server they name, expired or unreadable are denied without a JWT", async () => {
      const { responder, trust } = calloutResponder(f);
      const server = NKeyPair.create("server");
      const impostor = NKeyPair.create("server");
      const userNkey = NKeyPair.create("user").getPublicKey();
      const claims = (exp: number) => ({
        name: "",
        sub: userNkey,
        aud: "nats-authorization-request",
        exp,
        nats: {
          type: "authorization_request",
          server_id: { id: server.getPublicKey(), name: "forged" },
          user_nkey: userNkey,
          client_info: {},
          connect_opts: { user: admin.access_key, pass: admin.secret_key },
        },
      });
      const soon = Math.floor(Date.now() / 1000) + 2;
      const genuine = encodeJwt(claims(soon), server);
      const forged = [
        encodeJwt(claims(soon), impostor), // issuer is not server_id.id
        genuine.replace(/\.[^.]+$/, `.${Buffer.from(impostor.sign(Buffer.from("x"))).toString("base64url")}`), // bad signature
        encodeJwt({ ...claims(soon), aud: "someone-else" }, server),
        encodeJwt(claims(1), server), // expired
        "not a jwt",
      ];
      const sealer = XKey.fromSeed(createCurveSeed());
      const send = (token: string, seal = trust.calloutSealed) => handOver(responder, trust, sealer, token, seal);
      for (const token of forged) {
        const r = await send(token);
        assert.equal(r.code, 400);
        assert.equal(r.data.length, 0, "no response JWT for a request that is not genuine");
      }
      // sealed when it must not be, or the other way round
      assert.equal((await send(genuine, !trust.calloutSealed)).code, 400);
      // the genuine request passes the checks and is allowed (the admin key)
      const ok = await send(genuine);
      assert.equal(ok.code, undefined);
      const token = trust.calloutSealed ? new TextDecoder().decode(sealer.open(ok.data, trust.xkey.publicKey)!) : new TextDecoder().decode(ok.data);
      const response = decodeJwt<{ jwt?: string }>(token);
      assert.ok(validator("urn:mnq:callout:authorization-response")(response), "the response has the shape its schema names");
      assert.equal(response.aud, server.getPublicKey());
      assert.equal(response.sub, userNkey);
      assert.ok(response.nats.jwt);
    });
  });
}

calloutSuite("xkey", {});
calloutSuite("no xkey", { calloutXkey: false });
