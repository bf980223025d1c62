import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.ts";

export interface ObserveServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  /** Why the instance cannot answer now (not started, a connection down, a copy behind…); empty when it can. */
  notReady: () => string[];
}

export interface ObserveServer {
  /** The port bound (the one asked for, or the one given for 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The operator's HTTP listener: `GET /metrics` (Prometheus text), `GET /healthz` (the process
 * answers) and `GET /readyz` (200 when ready, else 503), for scrapers, load balancers and
 * Kubernetes probes. Nothing else is served; no request body is read.
 */
export async function startObserveServer(opts: ObserveServerOptions): Promise<ObserveServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const text = (status: number, body: string) => res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(body);
    switch (path) {
      case "/healthz":
        text(200, "ok\n");
        return;
      case "/readyz":
        {
          const why = opts.notReady();
          if (why.length === 0) text(200, "ready\n");
          else text(503, `not ready: ${why.join("; ")}\n`);
        }
        return;
      case "/metrics":
        opts.metrics.text().then(
          (body) => res.writeHead(200, { "content-type": opts.metrics.registry.contentType }).end(body),
          () => text(500, "metrics unavailable\n"),
        );
        return;
      default:
        text(404, "not found: /metrics, /healthz, /readyz\n");
    }
  });
  server.headersTimeout = 5000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
