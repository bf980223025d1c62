import pkg from "../../package.json" with { type: "json" };

/** This release of mnq (package.json). */
export const VERSION: string = pkg.version;

/** The oldest nats-server mnq runs on (NATS-FACTS: version floors). */
export const MIN_SERVER_VERSION = "2.11.2";
