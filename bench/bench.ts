#!/usr/bin/env node
// npm run bench [-- --quick] [-- --json]: run the suite, save the results,
// print a Markdown summary (or, with --json, one JSON object on stdout).

import { EXIT, type FlagSpec, flagHelp, parseFlags, usageExit } from "../src/cli/args.js";
import { markdownSummary } from "../src/report/markdown.js";
import { defaultResultsDir, saveResults } from "./files.js";
import { plan, runSuite } from "./suite.js";

export const BENCH_FLAGS: FlagSpec[] = [
  { name: "quick", kind: "bool", help: "a reduced set that runs in under 30 s" },
  { name: "json", kind: "bool", help: "print one JSON object on stdout instead of the summary" },
  {
    name: "out",
    kind: "string",
    arg: "DIR",
    help: "results directory (default: results/ in the package)",
  },
  { name: "quiet", kind: "bool", help: "no progress on stderr" },
  { name: "help", kind: "bool", help: "this help" },
];

export interface BenchIo {
  out: (s: string) => void;
  err: (s: string) => void;
  signal?: AbortSignal;
}

export function benchHelp(): string {
  return [
    "usage: npm run bench -- [flags]      (gupstress bench [flags])",
    "",
    "Measures what each fix costs on the threaded harness (freerun, tracing and delays off),",
    "how the IPI's cost grows with CPUs, the harness's overhead against a hand-written floor,",
    "and race-finding power. Saves results/bench-<date>.json and results/latest.json.",
    "",
    flagHelp(BENCH_FLAGS),
  ].join("\n");
}

export async function benchCommand(argv: readonly string[], io: BenchIo): Promise<number> {
  let flags: Map<string, unknown>;
  try {
    flags = parseFlags(argv, BENCH_FLAGS);
  } catch (e) {
    return usageExit("bench", io.err, e);
  }
  if (flags.get("help") === true) {
    io.out(`${benchHelp()}\n`);
    return EXIT.ok;
  }
  const quick = flags.get("quick") === true;
  const json = flags.get("json") === true;
  const quiet = flags.get("quiet") === true;
  const dir = (flags.get("out") as string | undefined) ?? defaultResultsDir();
  const log = quiet ? () => {} : (s: string) => io.err(`${s}\n`);
  const p = plan(quick);
  log(
    `gupstress bench${quick ? " --quick" : ""}: ${p.rounds} rounds x ${p.cpus.length} CPU counts (${p.cpus.join(", ")}) x 4 fixes, ${p.runMs} ms each`,
  );
  let results: Awaited<ReturnType<typeof runSuite>>;
  try {
    results = await runSuite(p, log, io.signal);
  } catch (e) {
    if (!io.signal?.aborted) throw e;
    // Rounds interleave the fixes: a cut-short suite would not compare them fairly.
    const sig = String(io.signal.reason ?? "SIGINT");
    io.err(
      `gupstress bench: interrupted by ${sig}: nothing saved (a partial suite is not a fair comparison)\n`,
    );
    return sig === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
  }
  const [dated] = saveResults(results, dir);
  log(`saved ${dated} (and latest.json) in ${(results.wallMs / 1000).toFixed(1)} s`);
  if (json) io.out(`${JSON.stringify(results)}\n`);
  else io.out(markdownSummary(results));
  return EXIT.ok;
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"));
if (invokedDirectly) {
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort("SIGINT"));
  process.once("SIGTERM", () => controller.abort("SIGTERM"));
  benchCommand(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    signal: controller.signal,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`gupstress bench: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 3;
    },
  );
}
