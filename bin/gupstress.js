#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm run build makes dist/).
await import("../dist/src/cli.js");
