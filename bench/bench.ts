#!/usr/bin/env node
// npm run bench: the same as `gupstress bench` (src/cli/bench-command.ts).

import { runAsProcess } from "../src/cli/main.js";

runAsProcess(["bench", ...process.argv.slice(2)]);
