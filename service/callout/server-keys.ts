/** Pins kept at most; a server's xkey changes only when it restarts. */
const MAX_PINS = 1024;

/**
 * Which server (its identity key) sealed requests with which curve key, learnt from requests
 * whose signature verified and whose signed claims name that curve key (`server_id.xkey`).
 *
 * Why a pinned request needs no signature check: a server makes its curve key at start and never
 * lets its secret half out, and a box that opens under the server's public half with the
 * service's secret could only have been sealed by that server process (NaCl box authenticates the
 * sender). The key was vouched for by the server's identity key in a signed request, so a request
 * sealed under it comes from that server, exactly what the signature would have shown. A request
 * under any other curve key is verified in full (and then pins its key).
 */
export class ServerKeys {
  readonly #serverOf = new Map<string, string>();

  /** The server identity a curve key is pinned to, if any. */
  serverOf(xkey: string): string | undefined {
    return this.#serverOf.get(xkey);
  }

  /** Pins `xkey` to `server` (call only after the server's signature over that binding verified). */
  pin(xkey: string, server: string): void {
    if (this.#serverOf.size >= MAX_PINS) this.#serverOf.clear();
    this.#serverOf.set(xkey, server);
  }

  get size(): number {
    return this.#serverOf.size;
  }
}
