#!/usr/bin/env node
// The `mnq` command: runs the TypeScript sources through tsx.
import { register } from "tsx/esm/api";

register();
await import("../service/cli.ts");
