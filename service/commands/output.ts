/** Prints rows as an aligned table (humans) or the value as JSON (scripts). */
export function print(value: unknown, json: boolean, columns?: string[]): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const rows = Array.isArray(value) ? (value as Record<string, unknown>[]) : [value as Record<string, unknown>];
  if (rows.length === 0) {
    process.stdout.write("(none)\n");
    return;
  }
  const cols = columns ?? Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => show(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  process.stdout.write(`${[line(cols.map((c) => c.toUpperCase())), ...cells.map(line)].join("\n")}\n`);
}

function show(v: unknown): string {
  if (v === null || v === undefined) return "";
  return printable(typeof v === "object" ? JSON.stringify(v) : String(v));
}

/**
 * Control and format characters (escape sequences, BEL, NUL, bidi overrides, zero-width and tag
 * characters, line and paragraph separators, Hangul fillers) shown as `\u{…}`: what a server or an
 * older record holds must not steer the terminal or hide what a name says.
 */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
