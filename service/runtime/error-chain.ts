/** An error and its causes as one line ("JetStreamNotEnabled … <- RequestError: no responders …"). */
export function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 4; e = e instanceof Error ? e.cause : undefined, depth++) {
    parts.push(e instanceof Error ? `${e.name} ${e.message}` : String(e));
  }
  return parts.join(" <- ");
}
