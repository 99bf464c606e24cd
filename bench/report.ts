#!/usr/bin/env node
// npm run report: the same as `gupstress report` (src/cli/report-command.ts).

import { runAsProcess } from "../src/cli/main.js";

runAsProcess(["report", ...process.argv.slice(2)]);
