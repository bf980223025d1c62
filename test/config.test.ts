import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { ConfigError, configSchema, loadConfig, settings } from "../service/config/index.ts";
import { settingsValidatorSource, VALIDATOR_FILE } from "../service/config/validator-source.ts";
import { projectRoot } from "../service/contract/project-root.ts";
import { CLUSTER_DATA_DIR, clusterConfig } from "../service/commands/cluster.ts";

test("config - defaults follow the contract", () => {
  const cfg = loadConfig({}, "/srv/mnq");
  assert.equal(cfg.dataDir, "/srv/mnq/.mnq");
  assert.equal(cfg.natsPort, 4222);
  assert.equal(cfg.endpoint, "nats://127.0.0.1:4222");
  assert.equal(cfg.region, "local");
  assert.equal(cfg.kvReplicas, 1);
  assert.equal(cfg.quota.storageBytes, 314_572_800);
  assert.equal(cfg.quota.memoryBytes, 0);
  assert.equal(cfg.maxAccountsPerProject, 10);
});

test("config - numbers are read from strings", () => {
  const cfg = loadConfig({ MNQ_NATS_PORT: "4333", MNQ_ACCOUNT_STORAGE_BYTES: "31457280" });
  assert.equal(cfg.natsPort, 4333);
  assert.equal(cfg.quota.storageBytes, 31_457_280);
  assert.equal(cfg.endpoint, "nats://127.0.0.1:4333");
});

test("config - a bad value is refused with its name and value", () => {
  assert.throws(() => loadConfig({ MNQ_NATS_PORT: "70000" }), (e: Error) => e instanceof ConfigError && /MNQ_NATS_PORT/.test(e.message) && /70000/.test(e.message));
  assert.throws(() => loadConfig({ MNQ_KV_REPLICAS: "three" }), /MNQ_KV_REPLICAS/);
  assert.throws(() => loadConfig({ MNQ_REGION: "Bad Region" }), /MNQ_REGION/);
  assert.throws(() => loadConfig({ MNQ_NATS_URL: "http://x" }), /MNQ_NATS_URL/);
  // in words: the allowed values, and never a regex
  assert.throws(() => loadConfig({ MNQ_TLS: "selfsigned" }), /MNQ_TLS must be "self-signed" \(got "selfsigned"\)/);
  assert.throws(() => loadConfig({ MNQ_REGION: "Bad Region" }), (e: Error) => !/\^\[|must match pattern/.test(e.message));
});

test("config - an unknown MNQ_ variable is refused as a likely typo", () => {
  assert.throws(() => loadConfig({ MNQ_NATS_PROT: "4222" }), /unknown setting MNQ_NATS_PROT/);
});

test("config - the master key never appears in an error", () => {
  assert.throws(
    () => loadConfig({ MNQ_MASTER_KEY: "s3cret-value", MNQ_NATS_PORT: "0" }),
    (e: Error) => !e.message.includes("s3cret-value"),
  );
});

test("config - a bare or too wide wildcard in MNQ_TLS_NAMES is refused, a wildcard under a domain is taken", () => {
  for (const names of ["*", "*,*.*", "*.com", "a.*.example.com", "mnq,*.*"]) {
    assert.throws(() => loadConfig({ MNQ_TLS: "self-signed", MNQ_TLS_NAMES: names }), (e: Error) => e instanceof ConfigError && /MNQ_TLS_NAMES: '.*' is too wide/.test(e.message), names);
  }
  assert.equal(loadConfig({ MNQ_TLS: "self-signed", MNQ_TLS_NAMES: "*.mnq.example.com,10.0.0.5,mnq" }).tls.tlsNames, "*.mnq.example.com,10.0.0.5,mnq");
});

test("config - settings that contradict each other are refused", () => {
  assert.throws(() => loadConfig({ MNQ_KV_REPLICAS: "3" }), (e: Error) => e instanceof ConfigError && /MNQ_KV_REPLICAS=3 needs a cluster/.test(e.message));
  const cfg = loadConfig({ MNQ_KV_REPLICAS: "3", MNQ_NATS_URL: "nats://127.0.0.1:4222,nats://127.0.0.1:4223" });
  assert.equal(cfg.kvReplicas, 3);
  assert.deepEqual(cfg.natsServers, ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]);
  assert.equal(cfg.endpoint, "nats://127.0.0.1:4222,nats://127.0.0.1:4223");
});

test("config - schemas/config.json is the settings table's schema (npm run schemas writes it)", () => {
  const file = JSON.parse(readFileSync(join(projectRoot, "schemas", "config.json"), "utf8"));
  assert.deepEqual(file, JSON.parse(JSON.stringify(configSchema)));
});

test("config - the precompiled validator is what npm run schemas makes of the settings table today", () => {
  assert.equal(readFileSync(join(projectRoot, VALIDATOR_FILE), "utf8"), settingsValidatorSource(), `${VALIDATOR_FILE} is out of date: run npm run schemas`);
});

test("config - the README's table lists every setting with its default", () => {
  const readme = readFileSync(join(projectRoot, "README.md"), "utf8");
  const rows = new Map<string, string>();
  for (const m of readme.matchAll(/^\| ((?:`MNQ_[A-Z_]+`(?: \/ )?)+) \| ([^|]*) \|/gm)) {
    for (const name of m[1]!.matchAll(/`(MNQ_[A-Z_]+)`/g)) rows.set(name[1]!, m[2]!.trim());
  }
  for (const s of settings) {
    assert.ok(rows.has(s.name), `README lacks ${s.name}`);
    if (s.default !== undefined) assert.equal(rows.get(s.name), `\`${s.default}\``, `README default of ${s.name}`);
  }
  for (const name of rows.keys()) assert.ok(settings.some((s) => s.name === name), `README lists ${name}, which is no setting`);
});

test("docs - every file the README and docs/ link to is in the repository, and they name no document outside it", () => {
  for (const doc of ["README.md", "docs/api.md"]) {
    const text = readFileSync(join(projectRoot, doc), "utf8");
    for (const m of text.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      assert.ok(existsSync(join(projectRoot, dirname(doc), target)), `${doc} links ${target}, which a clone does not have`);
    }
    assert.doesNotMatch(text, /\bAPI\.md\b|\.\.\/shared/, `${doc} names a document outside the repository`);
  }
});

test("config - mnq cluster keeps its own data dir (.mnq-cluster) unless MNQ_DATA_DIR names one; npm start keeps .mnq", () => {
  assert.equal(loadConfig({}).dataDir, resolve(".mnq"));
  assert.equal(clusterConfig(loadConfig({}), {}).dataDir, resolve(CLUSTER_DATA_DIR));
  assert.equal(clusterConfig(loadConfig({ MNQ_DATA_DIR: "/srv/mnq" }), { MNQ_DATA_DIR: "/srv/mnq" }).dataDir, "/srv/mnq");
});
