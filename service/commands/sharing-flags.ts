import { readFileSync } from "node:fs";
import type { AccountExport, AccountImport } from "../store/index.ts";
import { subjectWithin } from "../contract/subjects.ts";
import { CliError } from "./connection.ts";
import { print } from "./output.ts";

/** `mnq account update`'s flags for what an account shares (docs/api.md "Sharing between accounts"). */
export const SHARING_OPTIONS = {
  name: { type: "string" as const },
  export: { type: "string" as const, multiple: true as const },
  import: { type: "string" as const, multiple: true as const },
  file: { type: "string" as const },
};

export const SHARING_HELP = `  --name N                        rename the account
  --export SUBJECT:TYPE[:RESPONSE]  what the account shares: TYPE stream or service (RESPONSE
                                  singleton, stream or chunked); repeat for more. The list given
                                  replaces the account's exports
  --import ACCOUNT:SUBJECT[:LOCAL]  what it takes from another account of the project, seen at
                                  LOCAL (default SUBJECT); the type is the export's. Repeat for
                                  more; the list replaces the account's imports
  --file FILE                     a JSON file {"name"?, "exports"?, "imports"?} (docs/api.md),
                                  e.g. {"exports": []} to share nothing`;

const EXPORT = /^(.+):(stream|service)(?::(singleton|stream|chunked))?$/;
const IMPORT = /^(A[A-Z2-7]{55}):([^:]+)(?::([^:]+))?$/;

/** The export of another account (`exportsOf`) an import's subject lies within: its type. */
export type ExportsOf = (accountId: string) => Promise<AccountExport[]>;

/** The update's body (without the account id) from the flags, or from --file. */
export async function sharingFromFlags(
  values: Record<string, unknown>,
  exportsOf: ExportsOf,
): Promise<{ name?: string; exports?: AccountExport[]; imports?: AccountImport[] }> {
  const file = values.file as string | undefined;
  if (file !== undefined) {
    if (values.export !== undefined || values.import !== undefined) throw new CliError("give --file, or --export/--import, not both");
    try {
      return JSON.parse(readFileSync(file, "utf8")) as { name?: string; exports?: AccountExport[]; imports?: AccountImport[] };
    } catch (err) {
      throw new CliError(`${file}: ${(err as Error).message}`);
    }
  }
  const body: { name?: string; exports?: AccountExport[]; imports?: AccountImport[] } = {};
  if (values.name !== undefined) body.name = values.name as string;
  const exports = values.export as string[] | undefined;
  if (exports) {
    body.exports = exports.map((v) => {
      const m = EXPORT.exec(v);
      if (!m) throw new CliError(`--export '${v}': expected SUBJECT:stream or SUBJECT:service[:singleton|stream|chunked]`);
      return { subject: m[1]!, type: m[2] as AccountExport["type"], ...(m[3] ? { response_type: m[3] as AccountExport["response_type"] } : {}) };
    });
  }
  const imports = values.import as string[] | undefined;
  if (imports) {
    body.imports = await Promise.all(
      imports.map(async (v) => {
        const m = IMPORT.exec(v);
        if (!m) throw new CliError(`--import '${v}': expected ACCOUNT_ID:SUBJECT[:LOCAL_SUBJECT]`);
        const [, account, subject, local] = m as unknown as [string, string, string, string | undefined];
        const exp = (await exportsOf(account)).find((e) => subjectWithin(subject, e.subject));
        if (!exp) throw new CliError(`--import '${v}': account ${account} exports nothing that ${subject} lies within`);
        return { nats_account_id: account, subject, type: exp.type, ...(local ? { local_subject: local } : {}) };
      }),
    );
  }
  if (Object.keys(body).length === 0) throw new CliError("nothing to change: give --name, --export, --import or --file");
  return body;
}

/** An account as a table, then its exports and imports (when it has any). */
export function printAccount(account: Record<string, unknown> & { exports?: unknown[]; imports?: unknown[] }, json: boolean, columns: string[]): void {
  if (json) return print(account, true);
  print(account, false, columns);
  if (account.exports?.length) {
    process.stdout.write("\nEXPORTS\n");
    print(account.exports, false, ["subject", "type", "response_type", "name"]);
  }
  if (account.imports?.length) {
    process.stdout.write("\nIMPORTS\n");
    print(account.imports, false, ["nats_account_id", "subject", "type", "local_subject", "name"]);
  }
}
