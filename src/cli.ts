#!/usr/bin/env node
// The entry point of `gupstress` (and of `npm run stress`, `explore`, ...).
// Every command lives in src/cli/.
//
// A Ctrl-C that comes while the modules still load (hundreds of milliseconds
// on a loaded machine) is kept, not left to Node's default (which kills the
// process with nothing printed): the command then starts already stopped,
// prints what it has and exits 130 (or 143).

const early: NodeJS.Signals[] = [];
const keep = (sig: NodeJS.Signals) => {
  early.push(sig);
};
process.on("SIGINT", keep);
process.on("SIGTERM", keep);
const { runAsProcess } = await import("./cli/main.js");
process.off("SIGINT", keep);
process.off("SIGTERM", keep);
runAsProcess(process.argv.slice(2), early);
