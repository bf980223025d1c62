import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { NatsConnection } from "@nats-io/nats-core";
import { writeSecretFile } from "../bootstrap/files.ts";
import type { Config } from "../config/index.ts";
import { clientCaFile, madeCaFile } from "../tls/index.ts";
import { callApi, CliError, CONNECTION_HELP, connectApi, type ConnectionFlags } from "./connection.ts";
import { LIMIT_HELP, LIMIT_OPTIONS, LIMIT_USAGE, limitsFromFlags, summarizePermissions } from "./credential-limits.ts";
import { print } from "./output.ts";
import { printAccount, SHARING_HELP, SHARING_OPTIONS, sharingFromFlags } from "./sharing-flags.ts";
import type { AccountExport } from "../store/index.ts";
import { adminSubject, apiSubject, type ProjectOperation } from "../contract/subjects.ts";

type Values = Record<string, string | boolean | string[] | undefined>;
interface Run {
  cfg: Readonly<Config>;
  nc: NatsConnection;
  values: Values;
  args: string[];
  json: boolean;
}

/** One `mnq <group> <action>` command that calls the API. */
interface ApiCommand {
  usage: string;
  summary: string;
  options?: NonNullable<ParseArgsConfig["options"]>;
  /** Positional arguments it needs, by name. */
  args?: string[];
  /** Positional arguments it may take after those, by name. */
  optionalArgs?: string[];
  /** More help text, after the usage and summary. */
  help?: string;
  run(r: Run): Promise<void>;
}

const ACCOUNT_COLUMNS = ["id", "name", "project_id", "signing_keys", "created_at"];
const CREDS_COLUMNS = ["id", "name", "nats_account_id", "permissions", "expires_at", "checksum", "created_at"];
const KEY_COLUMNS = ["access_key", "name", "project_id", "role", "nats_account_ids", "created_at"];

const project = (r: Run): string => {
  const p = (r.values.project as string | undefined) ?? r.cfg.project;
  if (!p) throw new CliError("which project? pass --project P (or set MNQ_PROJECT)");
  return p;
};
const api = (r: Run, op: ProjectOperation) => apiSubject(project(r), op);
const num = (v: unknown, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new CliError(`--${flag} must be a whole number`);
  return n;
};
const listBody = (r: Run) => ({
  ...(r.values.page !== undefined ? { page: num(r.values.page, "page") } : {}),
  ...(r.values["page-size"] !== undefined ? { page_size: num(r.values["page-size"], "page-size") } : {}),
  ...(r.values.name !== undefined ? { name: r.values.name } : {}),
});
const PROJECT = { project: { type: "string" as const } };
const LIST = { page: { type: "string" as const }, "page-size": { type: "string" as const }, name: { type: "string" as const } };

/** An existing file is kept unless --force, or the user says yes at a terminal. */
async function confirmOverwrite(path: string, force: boolean): Promise<void> {
  if (!existsSync(path) || force) return;
  if (!process.stdin.isTTY) throw new CliError(`${path} exists; pass --force to overwrite it`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${path} exists. Overwrite? [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError(`kept ${path}`);
}

/**
 * Writes a secret file (0600) made by `create`, a call that makes something on the server: where
 * it goes is checked first (confirmOverwrite, when the path is known before the call), and when the
 * write fails anyway, what was made is deleted (`undo`) and the error says so. A secret is never
 * left on the server with no copy anywhere.
 */
async function createWithSecret<R>(
  path: string | undefined,
  force: boolean,
  create: () => Promise<R>,
  file: (made: R) => { path: string; content: string },
  undo: (made: R) => Promise<unknown>,
): Promise<R> {
  if (path) await confirmOverwrite(path, force);
  const made = await create();
  const out = file(made);
  try {
    if (!path) await confirmOverwrite(out.path, force);
    writeSecretFile(out.path, out.content);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    try {
      await undo(made);
    } catch {
      throw new CliError(`could not write ${out.path} (${why}), and deleting what was created failed: delete it by hand`);
    }
    throw new CliError(`could not write ${out.path} (${why}); what was created was deleted again`);
  }
  return made;
}

export const API_COMMANDS: Record<string, Record<string, ApiCommand>> = {
  account: {
    create: {
      usage: "mnq account create --project P [--name N]",
      summary: "create a NATS account (300 MiB JetStream quota by default)",
      options: { ...PROJECT, name: { type: "string" } },
      async run(r) {
        const a = await callApi(r.nc, api(r, "nats-accounts.create"), r.values.name ? { name: r.values.name } : {});
        print(a, r.json, ACCOUNT_COLUMNS);
      },
    },
    list: {
      usage: "mnq account list --project P [--page N] [--page-size N] [--name SUBSTRING]",
      summary: "list a project's NATS accounts",
      options: { ...PROJECT, ...LIST },
      async run(r) {
        const page = await callApi<{ total_count: number; nats_accounts: unknown[] }>(r.nc, api(r, "nats-accounts.list"), listBody(r));
        print(r.json ? page : page.nats_accounts, r.json, ACCOUNT_COLUMNS);
      },
    },
    get: {
      usage: "mnq account get ACCOUNT_ID --project P",
      summary: "show one NATS account",
      options: PROJECT,
      args: ["ACCOUNT_ID"],
      async run(r) {
        printAccount(await callApi(r.nc, api(r, "nats-accounts.get"), { nats_account_id: r.args[0] }), r.json, [...ACCOUNT_COLUMNS, "endpoint"]);
      },
    },
    update: {
      usage: "mnq account update ACCOUNT_ID --project P [--name N] [--export SUBJECT:TYPE]… [--import ACCOUNT_ID:SUBJECT[:LOCAL]]… [--file FILE]",
      summary: "rename an account, or set what it shares with the project's other accounts",
      help: SHARING_HELP,
      options: { ...PROJECT, ...SHARING_OPTIONS },
      args: ["ACCOUNT_ID"],
      async run(r) {
        const exportsOf = async (id: string) => (await callApi<{ exports: AccountExport[] }>(r.nc, api(r, "nats-accounts.get"), { nats_account_id: id })).exports;
        const body = await sharingFromFlags(r.values, exportsOf);
        printAccount(await callApi(r.nc, api(r, "nats-accounts.update"), { nats_account_id: r.args[0], ...body }), r.json, ACCOUNT_COLUMNS);
      },
    },
    delete: {
      usage: "mnq account delete ACCOUNT_ID --project P",
      summary: "delete a NATS account: its streams, credentials and connections go",
      options: PROJECT,
      args: ["ACCOUNT_ID"],
      async run(r) {
        await callApi(r.nc, api(r, "nats-accounts.delete"), { nats_account_id: r.args[0] });
        print(r.json ? {} : { deleted: r.args[0] }, r.json);
      },
    },
    usage: {
      usage: "mnq account usage ACCOUNT_ID --project P",
      summary: "storage used / reserved / quota, streams, consumers, connections",
      options: PROJECT,
      args: ["ACCOUNT_ID"],
      async run(r) {
        const u = await callApi<{ storage: { used_bytes: number; reserved_bytes: number; quota_bytes: number }; streams: number; consumers: number; connections: number }>(
          r.nc,
          api(r, "nats-accounts.usage"),
          { nats_account_id: r.args[0] },
        );
        const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
        print(r.json ? u : { used: mib(u.storage.used_bytes), reserved: mib(u.storage.reserved_bytes), quota: mib(u.storage.quota_bytes), streams: u.streams, consumers: u.consumers, connections: u.connections }, r.json);
      },
    },
    "rotate-key": {
      usage: "mnq account rotate-key ACCOUNT_ID --project P [--retire-previous]",
      summary: "new signing key for new credentials; --retire-previous stops the earlier ones (their connections close)",
      options: { ...PROJECT, "retire-previous": { type: "boolean" } },
      args: ["ACCOUNT_ID"],
      async run(r) {
        const retire = r.values["retire-previous"] === true;
        const body = { nats_account_id: r.args[0], ...(retire ? { retire_previous: true } : {}) };
        // what the retirement deleted: the account's credentials counted before and after
        const count = async () => (await callApi<{ total_count: number }>(r.nc, api(r, "nats-credentials.list"), { nats_account_id: r.args[0], page_size: 1 })).total_count;
        const before = retire ? await count() : 0;
        const account = await callApi(r.nc, api(r, "nats-accounts.rotate-signing-key"), body);
        print(account, r.json, ACCOUNT_COLUMNS);
        if (retire && !r.json) {
          const gone = before - (await count());
          process.stderr.write(`retired the previous signing keys: ${gone} credential${gone === 1 ? "" : "s"} signed by them deleted, their connections closed\n`);
        }
      },
    },
    import: {
      usage: "mnq account import ACCOUNT_ID --seed-file FILE --project P [--name N]",
      summary: "bring an existing account under management (its seed is read from a file, never from the command line)",
      options: { ...PROJECT, "seed-file": { type: "string" }, name: { type: "string" } },
      args: ["ACCOUNT_ID"],
      async run(r) {
        const file = r.values["seed-file"] as string | undefined;
        if (!file) throw new CliError("pass --seed-file FILE (the account's SA… seed)");
        if (!existsSync(file)) throw new CliError(`no such file: ${file}`);
        const seed = readFileSync(file, "utf8").trim();
        const body = { account_id: r.args[0], private_key: seed, ...(r.values.name ? { name: r.values.name } : {}) };
        print(await callApi(r.nc, api(r, "nats-accounts.import"), body), r.json, ACCOUNT_COLUMNS);
      },
    },
  },
  creds: {
    create: {
      usage: `mnq creds create ACCOUNT_ID --project P [--name N] [--out FILE|-] [--force] ${LIMIT_USAGE}`,
      summary: "mint a credentials file (written 0600 to ./<name>.creds, or --out; '-' prints it)",
      help: LIMIT_HELP,
      options: { ...PROJECT, name: { type: "string" }, out: { type: "string" }, force: { type: "boolean" }, ...LIMIT_OPTIONS },
      args: ["ACCOUNT_ID"],
      async run(r) {
        type Made = { id: string; name: string; permissions?: unknown; expires_at?: string | null; credentials: { name: string; content: string } };
        const body = { nats_account_id: r.args[0], ...(r.values.name ? { name: r.values.name } : {}), ...limitsFromFlags(r.values) };
        const create = () => callApi<Made>(r.nc, api(r, "nats-credentials.create"), body);
        const given = r.values.out as string | undefined;
        if (given === "-") {
          process.stdout.write((await create()).credentials.content);
          return;
        }
        // the file's name is known before the call when --out or --name says it
        const planned = given ?? (r.values.name ? `${r.values.name as string}.creds` : undefined);
        const c = await createWithSecret(
          planned && resolve(planned),
          r.values.force === true,
          create,
          (made) => ({ path: resolve(given ?? made.credentials.name), content: made.credentials.content }),
          (made) => callApi(r.nc, api(r, "nats-credentials.delete"), { nats_credentials_id: made.id }),
        );
        const { credentials: _secret, ...meta } = c;
        const shown = { ...meta, file: resolve(given ?? c.credentials.name) };
        print(r.json ? shown : { ...shown, permissions: summarizePermissions(meta.permissions as never) }, r.json, ["id", "name", "permissions", "expires_at", "file"]);
      },
    },
    list: {
      usage: "mnq creds list [ACCOUNT_ID] --project P [--page N] [--page-size N] [--name SUBSTRING]",
      summary: "list credentials, of one account or of the project (metadata and checksums; files are never shown again)",
      options: { ...PROJECT, ...LIST, account: { type: "string" } },
      optionalArgs: ["ACCOUNT_ID"],
      async run(r) {
        const account = r.args[0] ?? (r.values.account as string | undefined);
        const body = { ...listBody(r), ...(account ? { nats_account_id: account } : {}) };
        const page = await callApi<{ total_count: number; nats_credentials: Record<string, unknown>[] }>(r.nc, api(r, "nats-credentials.list"), body);
        const rows = page.nats_credentials.map((c) => ({ ...c, permissions: summarizePermissions(c.permissions as never) }));
        print(r.json ? page : rows, r.json, CREDS_COLUMNS);
      },
    },
    get: {
      usage: "mnq creds get CREDENTIALS_ID --project P",
      summary: "one credential's metadata (its file is never shown again)",
      options: PROJECT,
      args: ["CREDENTIALS_ID"],
      async run(r) {
        const c = await callApi<Record<string, unknown>>(r.nc, api(r, "nats-credentials.get"), { nats_credentials_id: r.args[0] });
        print(r.json ? c : { ...c, permissions: summarizePermissions(c.permissions as never) }, r.json, CREDS_COLUMNS);
      },
    },
    delete: {
      usage: "mnq creds delete CREDENTIALS_ID --project P",
      summary: "delete credentials: connections using them close",
      options: PROJECT,
      args: ["CREDENTIALS_ID"],
      async run(r) {
        await callApi(r.nc, api(r, "nats-credentials.delete"), { nats_credentials_id: r.args[0] });
        print(r.json ? {} : { deleted: r.args[0] }, r.json);
      },
    },
  },
  "api-key": {
    create: {
      usage: "mnq api-key create --project P [--name N] [--role owner|issuer|reader] [--account ACCOUNT_ID]… [--out FILE] [--force]",
      summary: "an API key for a project, written 0600 as JSON to --out (default ./mnq-api-key-<project>.json)",
      help: `  --role R            owner (default: everything), issuer (read accounts; create, read and delete
                      credentials) or reader (list, get and usage only)
  --account A…        the only accounts the key sees and acts on (repeat for more); such a key
                      cannot subscribe to events`,
      options: { ...PROJECT, name: { type: "string" }, role: { type: "string" }, account: { type: "string", multiple: true }, out: { type: "string" }, force: { type: "boolean" } },
      async run(r) {
        const p = project(r);
        const out = resolve((r.values.out as string | undefined) ?? `mnq-api-key-${p}.json`);
        const role = r.values.role as string | undefined;
        if (role !== undefined && !["owner", "issuer", "reader"].includes(role)) throw new CliError(`--role must be owner, issuer or reader (got '${role}')`);
        const accounts = r.values.account as string[] | undefined;
        const body = { project_id: p, ...(r.values.name ? { name: r.values.name } : {}), ...(role ? { role } : {}), ...(accounts?.length ? { nats_account_ids: accounts } : {}) };
        const k = await createWithSecret(
          out,
          r.values.force === true,
          () => callApi<{ access_key: string; secret_key: string }>(r.nc, adminSubject("api-keys.create"), body),
          (made) => ({ path: out, content: `${JSON.stringify({ access_key: made.access_key, secret_key: made.secret_key }, null, 2)}\n` }),
          (made) => callApi(r.nc, adminSubject("api-keys.delete"), { access_key: made.access_key }),
        );
        const { secret_key: _secret, ...meta } = k;
        print({ ...meta, file: out }, r.json, [...KEY_COLUMNS, "file"]);
      },
    },
    list: {
      usage: "mnq api-key list [--project P] [--page N] [--page-size N]",
      summary: "list API keys (never their secrets)",
      options: { ...PROJECT, page: { type: "string" }, "page-size": { type: "string" } },
      async run(r) {
        const body = { ...listBody(r), ...(r.values.project ? { project_id: r.values.project } : {}) };
        const page = await callApi<{ total_count: number; api_keys: unknown[] }>(r.nc, adminSubject("api-keys.list"), body);
        print(r.json ? page : page.api_keys, r.json, KEY_COLUMNS);
      },
    },
    delete: {
      usage: "mnq api-key delete ACCESS_KEY",
      summary: "delete an API key: connections made with it close",
      args: ["ACCESS_KEY"],
      async run(r) {
        await callApi(r.nc, adminSubject("api-keys.delete"), { access_key: r.args[0] });
        print(r.json ? {} : { deleted: r.args[0] }, r.json);
      },
    },
  },
};

/** `mnq context ACCOUNT_ID`: new credentials plus a `nats` CLI context using them. */
export const CONTEXT_COMMAND: ApiCommand = {
  usage: `mnq context ACCOUNT_ID --project P [--context NAME] [--force] ${LIMIT_USAGE}`,
  summary: "mint credentials and write a nats CLI context (~/.config/nats/context/NAME.json + NAME.creds, 0600)",
  help: LIMIT_HELP,
  options: { ...PROJECT, context: { type: "string" }, force: { type: "boolean" }, ...LIMIT_OPTIONS },
  args: ["ACCOUNT_ID"],
  async run(r) {
    const account = await callApi<{ id: string; name: string; endpoint: string }>(r.nc, api(r, "nats-accounts.get"), { nats_account_id: r.args[0] });
    const name = (r.values.context as string | undefined) ?? account.name;
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new CliError(`'${name}' cannot name a context file; pass --context NAME`);
    const dir = join(process.env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "nats", "context");
    const ctxFile = join(dir, `${name}.json`);
    const credsFile = join(dir, `${name}.creds`);
    await confirmOverwrite(ctxFile, r.values.force === true);
    const c = await callApi<{ id: string; credentials: { content: string } }>(r.nc, api(r, "nats-credentials.create"), {
      nats_account_id: account.id,
      name: `context-${name}`,
      ...limitsFromFlags(r.values),
    });
    writeSecretFile(credsFile, c.credentials.content);
    // the CA that verifies the servers, when they take TLS with a private CA
    const ca = clientCaFile(r.cfg) ?? (account.endpoint.startsWith("tls://") ? madeCaFile(r.cfg) : undefined);
    const context = {
      description: `mnq account ${account.name} (${account.id}), project ${project(r)}`,
      url: account.endpoint,
      creds: credsFile,
      ...(ca ? { ca: resolve(ca) } : {}),
    };
    writeSecretFile(ctxFile, `${JSON.stringify(context, null, 2)}\n`);
    print({ context: name, file: ctxFile, creds: credsFile, credentials_id: c.id, try: `nats --context ${name} pub hello world` }, r.json);
  },
};

/** Parses the flags of `cmd`, connects, runs it; errors become CliError. */
export async function runApiCommand(cfg: Readonly<Config>, cmd: ApiCommand, argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { ...cmd.options, server: { type: "string" }, creds: { type: "string" }, "api-key": { type: "string" }, json: { type: "boolean" } },
    });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\nusage: ${cmd.usage}`);
  }
  const need = cmd.args ?? [];
  const may = cmd.optionalArgs ?? [];
  if (parsed.positionals.length < need.length || parsed.positionals.length > need.length + may.length) {
    const expected = [...need, ...may.map((a) => `[${a}]`)];
    throw new CliError(`expected ${expected.length ? expected.join(" ") : "no arguments"}\nusage: ${cmd.usage}`);
  }
  const values = parsed.values as Values;
  const nc = await connectApi(cfg, values as ConnectionFlags);
  try {
    await cmd.run({ cfg, nc, values, args: parsed.positionals, json: values.json === true });
  } finally {
    await nc.close();
  }
}

/** Help for a group (`mnq account --help`) or one command. */
export function apiHelp(group: string, action?: string): string | undefined {
  const full = (c: ApiCommand) => `Usage: ${c.usage}\n\n${c.summary}\n\n${c.help ? `${c.help}\n\n` : ""}${CONNECTION_HELP}\n`;
  if (group === "context") return full(CONTEXT_COMMAND);
  const cmds = API_COMMANDS[group];
  if (!cmds) return undefined;
  const one = action ? cmds[action] : undefined;
  if (one) return full(one);
  const lines = Object.values(cmds).map((c) => `  ${c.usage}\n      ${c.summary}`);
  return `Usage: mnq ${group} <action> [flags]\n\n${lines.join("\n")}\n\n${CONNECTION_HELP}\n`;
}
