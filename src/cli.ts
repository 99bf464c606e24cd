#!/usr/bin/env node
// The entry point of `gupstress` (and of `npm run stress`, `explore`, ...).
// Every command lives in src/cli/.

import { runAsProcess } from "./cli/main.js";

runAsProcess(process.argv.slice(2));
