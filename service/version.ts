import pkg from "../package.json" with { type: "json" };

/** This release of mnq (package.json). */
export const VERSION: string = pkg.version;
