/** What a suite closes when it ends. */
interface Closable {
  close(): Promise<unknown>;
}

/**
 * The connections a suite opens, closed at its end (`await open.closeAll()` in its `after`, before
 * its servers stop): `open.keep(nc)` tracks a connection and returns it.
 */
export function connectionsOfSuite<T extends Closable = Closable>(): { keep<U extends T>(...ncs: U[]): U; closeAll(): Promise<void> } {
  const open: T[] = [];
  return {
    keep(...ncs) {
      open.push(...ncs);
      return ncs[0]!;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((nc) => nc.close().catch(() => undefined)));
    },
  };
}
