import { settings } from "../config/index.ts";
import { MIN_SERVER_VERSION, VERSION } from "../runtime/version.ts";

export const CLUSTER_HELP = `Usage: mnq cluster [--instances N] [--client-ports P1,P2,P3] [--route-ports P1,P2,P3]

Runs mnq scaled out on this machine: the 3-node JetStream cluster of deploy/cluster (nodes on
127.0.0.1:4222-4224, routes on 6222-6224, each node a full resolver; configs copied beside
MNQ_DATA_DIR/server/trust.conf, stores under MNQ_DATA_DIR/n1..n3; MNQ_DATA_DIR defaults to
.mnq-cluster here, apart from npm start's .mnq) and N mnq instances (default 2,
each its own process, KV buckets at 3 replicas). With MNQ_TLS_CERT/KEY (or MNQ_TLS=self-signed)
the client ports and the routes take TLS only. Ctrl-C stops the instances (each answers what it
took), then the nodes.

  --instances N              how many mnq instances to run (1-8) [2]
  --client-ports P1,P2,P3    the nodes' client ports instead of 4222-4224
  --route-ports P1,P2,P3     the nodes' route ports instead of 6222-6224
`;

/** The help of the commands that are not API calls (the API groups' help is beside them). */
export const HELP: Record<string, string> = {
  main: `mnq ${VERSION}: NATS accounts and credentials, served over NATS (mnq.api.v1.<project>.>)

Usage: mnq <command> [--help]

Commands:
  bootstrap   create the operator, accounts, keys and server include in the data dir (idempotent)
  start       run mnq: bootstrap if needed, start the embedded nats-server (unless MNQ_NATS_URL
              is set), serve the API; Ctrl-C stops both
  cluster     run a 3-node JetStream cluster (deploy/cluster) and N mnq instances on this machine
  status      server reachable and recent enough, mnq instances, accounts/credentials/keys held
  account     create | list | get | update | delete | usage | rotate-key | import   (NATS accounts)
  creds       create | list | get | delete                                           (credentials files)
  api-key     create | list | delete                                                 (API keys, admin)
  context     ACCOUNT_ID: new credentials + a nats CLI context, so 'nats --context NAME' works
  help        show this text, or 'mnq help <command>'

The API commands call mnq over NATS with the admin API key file of MNQ_DATA_DIR unless given
--api-key FILE or --creds FILE; add --json for scripts. 'mnq <command> --help' for each.

Configuration (environment variables):
${settings.map((s) => `  ${s.name.padEnd(30)} ${s.description}${s.default !== undefined ? ` [${s.default}]` : ""}`).join("\n")}
`,
  bootstrap: `Usage: mnq bootstrap

Creates, under MNQ_DATA_DIR (0700; files 0600), the operator (identity + signing key), the SYS
account and the service's system user, the MNQ account (auth callout, JetStream), the service,
admin and sentinel users, the master key for tenant seeds, and server/trust.conf +
server/embedded.conf for nats-server. Existing keys are never replaced; a second run only
fills in missing files.
`,
  status: `Usage: mnq status [--server URL] [--api-key FILE | --creds FILE] [--json]

Connects like the API commands and shows: the server URL and version (at least ${MIN_SERVER_VERSION}),
the mnq instances answering $SRV.PING, and the projects, accounts, credentials and API keys held.
Exits 1 when no instance answers or the server is too old.
`,
  cluster: CLUSTER_HELP,
  start: `Usage: mnq start

Bootstraps if needed, starts nats-server on 127.0.0.1:MNQ_NATS_PORT with nats-server.conf (or
connects to MNQ_NATS_URL), starts the service and prints 'mnq ready'. SIGINT/SIGTERM drain the
service and stop the server.
`,
};
