import type { NatsConnection } from "@nats-io/nats-core";
import { DataFile, loadTrust } from "../../service/bootstrap/index.ts";
import { ResolverClient } from "../../service/resolver/index.ts";
import { Store } from "../../service/store/index.ts";
import { connectWithCreds } from "./mnq.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** KV and the resolvers seen from outside the instances (service and system users), for checks. */
export interface Probe {
  store: Store;
  resolver: ResolverClient;
  close(): Promise<void>;
}

export async function openProbe(dataDir: string, servers: string[], replicas: number): Promise<Probe> {
  const trust = loadTrust(dataDir);
  const nc: NatsConnection = await connectWithCreds(servers, readFileSync(join(dataDir, DataFile.serviceCreds), "utf8"), { inboxPrefix: "_MNQ_INBOX" });
  const sys = await connectWithCreds(servers, readFileSync(join(dataDir, DataFile.sysCreds), "utf8"));
  const store = await Store.open(nc, { replicas, timeout: 10_000 });
  const resolver = new ResolverClient(sys, trust.operatorSigner, 5000);
  return {
    store,
    resolver,
    async close() {
      await nc.close();
      await sys.close();
    },
  };
}
