#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm run build makes dist/).
process.env.GUPSTRESS_MAIN = "1";
await import("../dist/src/cli.js");
