import { ConflictError, InvalidArgumentsError } from "../contract/errors.ts";
import type { AccountExport, AccountImport, AccountRecord } from "../store/index.ts";
import { subjectsOverlap, subjectWithin } from "../contract/subjects.ts";

/**
 * What one account of a project may share with the others (docs/api.md "Sharing between
 * accounts"): the checks an update passes before its exports and imports reach the JWTs. The
 * server enforces what the JWTs say; these keep them saying only what the contract allows.
 */

/** The same number of tokens, with `*` and `>` in the same places. */
function sameWildcards(x: string, y: string): boolean {
  const a = x.split(".");
  const b = y.split(".");
  return a.length === b.length && a.every((t, i) => (t === "*" || t === ">" || b[i] === "*" || b[i] === ">" ? t === b[i] : true));
}

/** 400 unless the exports can stand together: no two overlap, and a service is not exported as `>` alone. */
export function checkExports(exports: readonly AccountExport[]): void {
  exports.forEach((e, i) => {
    if (e.type === "service" && e.subject === ">") {
      throw InvalidArgumentsError.one(`exports[${i}].subject`, "constraint", "a service cannot be exported as '>' alone: name its subjects");
    }
    if (e.type === "stream" && e.response_type !== undefined) {
      throw InvalidArgumentsError.one(`exports[${i}].response_type`, "constraint", "is for a service export only");
    }
    const j = exports.findIndex((o, k) => k < i && subjectsOverlap(o.subject, e.subject));
    if (j >= 0) throw InvalidArgumentsError.one(`exports[${i}].subject`, "constraint", `'${e.subject}' overlaps exports[${j}] ('${exports[j]!.subject}')`);
  });
}

/** The export of `exporter` an import lies within (same type), if any. */
function exportFor(imp: Pick<AccountImport, "subject" | "type">, exports: readonly AccountExport[] | undefined): AccountExport | undefined {
  return exports?.find((e) => e.type === imp.type && subjectWithin(imp.subject, e.subject));
}

/**
 * 400 unless each import names another account of the project (`peers`: its active tenant
 * accounts but this one) that exports the subject with that type, and a `local_subject` with the
 * subject's wildcards. An account the caller cannot reach is answered as one that does not exist.
 */
export function checkImports(self: string, imports: readonly AccountImport[], peers: ReadonlyMap<string, AccountRecord>): void {
  imports.forEach((imp, i) => {
    const at = `imports[${i}]`;
    if (imp.nats_account_id === self) throw InvalidArgumentsError.one(`${at}.nats_account_id`, "constraint", "an account cannot import from itself");
    const exporter = peers.get(imp.nats_account_id);
    if (!exporter) throw InvalidArgumentsError.one(`${at}.nats_account_id`, "constraint", "is not an account of this project");
    if (!exportFor(imp, exporter.exports)) {
      throw InvalidArgumentsError.one(`${at}.subject`, "constraint", `account ${imp.nats_account_id} exports no ${imp.type} that '${imp.subject}' lies within`);
    }
    if (imp.local_subject !== undefined && !sameWildcards(imp.subject, imp.local_subject)) {
      throw InvalidArgumentsError.one(`${at}.local_subject`, "constraint", `must have the wildcards of '${imp.subject}' in the same places`);
    }
  });
}

/** A 409 naming the imports a change of exports would leave without an export. */
export class ImportedExportError extends ConflictError {
  constructor(readonly importers: { nats_account_id: string; subject: string }[]) {
    super("other accounts import what this change removes or narrows: remove their imports first");
    this.name = "ImportedExportError";
  }
  override body(): Record<string, unknown> {
    return { ...super.body(), details: this.importers };
  }
}

/** 409 when an import of `self` by one of `peers` would lie within none of `exports`. */
export function checkImported(self: string, exports: readonly AccountExport[], peers: ReadonlyMap<string, AccountRecord>): void {
  const broken: { nats_account_id: string; subject: string }[] = [];
  for (const peer of peers.values()) {
    for (const imp of peer.imports ?? []) {
      if (imp.nats_account_id === self && !exportFor(imp, exports)) broken.push({ nats_account_id: peer.id, subject: imp.subject });
    }
  }
  if (broken.length > 0) throw new ImportedExportError(broken);
}

/** The change that drops an account's imports of `gone` (null when it has none): a delete's, and the reconcile's after a delete that stopped. */
export function withoutImportsOf(gone: ReadonlySet<string>): (cur: AccountRecord) => Partial<AccountRecord> | null {
  return (cur) => {
    const kept = (cur.imports ?? []).filter((i) => !gone.has(i.nats_account_id));
    return kept.length === (cur.imports ?? []).length ? null : { imports: kept, updated_at: new Date().toISOString() };
  };
}

/** Whether two lists hold the same entries, in order (an update that changes nothing writes nothing). */
export function sameList<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}
