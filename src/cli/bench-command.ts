// gupstress bench (npm run bench [-- --quick] [-- --json]): run the suite, save
// the results, print a Markdown summary (or, with --json, one JSON object).

import { writableDirProblem } from "../bench/atomic.js";
import { defaultResultsDir, saveResults, saveStorm } from "../bench/files.js";
import { acquireLock, LockHeld } from "../bench/lock.js";
import { runStorm, stormPlan } from "../bench/storm.js";
import { DEFAULT_CPUS, plan, runSuite } from "../bench/suite.js";
import { markdownSummary } from "../report/markdown.js";
import { stormMarkdown } from "../report/storm.js";
import { LIMITS } from "../run/config.js";
import { DEFAULT_SCENARIO, SCENARIO_NAMES } from "../scenarios/index.js";
import { EXIT, type FlagSpec, flagHelp, parseFlags, usageExit } from "./args.js";
import { faultExit } from "./fault.js";
import type { Io } from "./io.js";

export const BENCH_FLAGS: FlagSpec[] = [
  {
    name: "scenario",
    kind: "enum",
    arg: "NAME",
    values: SCENARIO_NAMES,
    help: `the race scenario to measure (default ${DEFAULT_SCENARIO})`,
  },
  { name: "quick", kind: "bool", help: "a reduced set that runs in under 30 s" },
  {
    name: "storm",
    kind: "bool",
    help: "with --scenario gup-vs-hugetlb-unshare: unshare storms instead of the suite (cost per unshare, the exit-fork loop's and the walkers' slowdown, per policy, CPU count, share count and bystander count; saved as results/storm-<date>-<pid>-<id>.json and storm-latest.json, which 'report' shows)",
  },
  {
    name: "bystanders",
    kind: "int",
    arg: "N",
    min: 0,
    max: LIMITS.bystanders.max,
    help: "also run every CPU count with N bystander CPUs beside it (doubles the cost runs; default 0: none)",
  },
  {
    name: "cpus",
    kind: "string",
    arg: "LIST",
    help: `CPU counts of the cost runs, comma-separated, each 2 to 64 (default ${DEFAULT_CPUS.full.join(",")}; --quick ${DEFAULT_CPUS.quick.join(",")})`,
  },
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

export function benchHelp(): string {
  return [
    "usage: npm run bench -- [flags]      (gupstress bench [flags])",
    "",
    "Measures what each fix costs on the threaded harness (freerun, tracing and delays off),",
    "how the IPI's cost grows with CPUs, the harness's overhead against a hand-written floor,",
    "and race-finding power. Saves results/bench-<date>-<pid>-<id>.json and results/latest.json",
    "(one bench at a time per directory: results/bench.lock).",
    "",
    flagHelp(BENCH_FLAGS),
  ].join("\n");
}

export async function benchCommand(argv: readonly string[], io: Io): Promise<number> {
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
  const cpuList = flags.get("cpus") as string | undefined;
  const cpus = cpuList === undefined ? undefined : parseCpuList(cpuList);
  if (cpus === null) {
    io.err(
      `gupstress bench: --cpus '${cpuList}' is not a list of CPU counts (accepted: whole numbers from 2 to 64, comma-separated, e.g. 2,4,8)\n`,
    );
    return EXIT.usage;
  }
  const json = flags.get("json") === true;
  const quiet = flags.get("quiet") === true;
  const storm = flags.get("storm") === true;
  if (storm && flags.get("scenario") !== "gup-vs-hugetlb-unshare") {
    io.err("gupstress bench: --storm needs --scenario gup-vs-hugetlb-unshare\n");
    return EXIT.usage;
  }
  const dir = (flags.get("out") as string | undefined) ?? defaultResultsDir();
  const unwritable = writableDirProblem(dir);
  if (unwritable !== null) {
    io.err(`gupstress bench: cannot save results in ${dir} (${unwritable})\n`);
    return EXIT.usage;
  }
  let release: () => void;
  try {
    release = acquireLock(dir);
  } catch (e) {
    if (!(e instanceof LockHeld)) throw e;
    io.err(`gupstress bench: ${e.message}: wait for it, or use another --out\n`);
    return EXIT.usage;
  }
  try {
    const scenario = (flags.get("scenario") as string | undefined) ?? DEFAULT_SCENARIO;
    const bystanders = (flags.get("bystanders") as number | undefined) ?? 0;
    if (storm) return await stormLocked(dir, quick, json, quiet, io, bystanders, cpus);
    return await benchLocked(dir, quick, json, quiet, io, scenario, bystanders, cpus);
  } finally {
    release();
  }
}

/** "2,4,8" -> [2, 4, 8]; null when any entry is not a whole number from 2 to 64. */
export function parseCpuList(text: string): number[] | null {
  const parts = text.split(",").map((x) => x.trim());
  const out: number[] = [];
  for (const x of parts) {
    if (!/^\d+$/.test(x)) return null;
    const n = Number(x);
    if (n < 2 || n > 64) return null;
    out.push(n);
  }
  return out.length > 0 ? out : null;
}

async function stormLocked(
  dir: string,
  quick: boolean,
  json: boolean,
  quiet: boolean,
  io: Io,
  bystanders: number,
  cpus: number[] | undefined,
): Promise<number> {
  const log = quiet ? () => {} : (s: string) => io.err(`${s}\n`);
  const p = stormPlan(quick, bystanders, cpus);
  log(
    `gupstress bench --storm${quick ? " --quick" : ""}: ${p.rounds} rounds x ${p.fixes.length} policies x CPUs ${p.cpus.join(", ")} x shares ${p.shares.join(", ")} x bystanders ${(p.bystanders ?? [0]).join(" and ")}, ${p.runMs} ms each`,
  );
  let r: Awaited<ReturnType<typeof runStorm>>;
  try {
    r = await runStorm(p, log, io.signal);
  } catch (e) {
    if (!io.signal?.aborted) return faultExit("bench", io.err, e);
    const sig = String(io.signal.reason ?? "SIGINT");
    io.err(
      `gupstress bench: interrupted by ${sig}: nothing saved (a partial storm is not a fair comparison)\n`,
    );
    return sig === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
  }
  let saveError: string | null = null;
  try {
    const [dated] = saveStorm(r, dir, quick);
    log(`saved ${dated} (and storm-latest.json) in ${(r.wallMs / 1000).toFixed(1)} s`);
  } catch (e) {
    saveError = (e as Error).message.split("\n")[0];
  }
  io.out(json ? `${JSON.stringify(r)}\n` : stormMarkdown(r));
  if (saveError !== null) {
    io.err(`gupstress bench: results printed but not saved in ${dir} (${saveError})\n`);
    return EXIT.fault;
  }
  return EXIT.ok;
}

async function benchLocked(
  dir: string,
  quick: boolean,
  json: boolean,
  quiet: boolean,
  io: Io,
  scenario: string,
  bystanders: number,
  cpus: number[] | undefined,
): Promise<number> {
  const log = quiet ? () => {} : (s: string) => io.err(`${s}\n`);
  const p = plan(quick, scenario, bystanders, cpus);
  log(
    `gupstress bench ${scenario}${quick ? " --quick" : ""}: ${p.rounds} rounds x ${p.cpus.length} CPU counts (${p.cpus.join(", ")})${bystanders > 0 ? ` x bystanders ${p.bystanders.join(" and ")}` : ""} x the baseline and each clean fix, ${p.runMs} ms each`,
  );
  let results: Awaited<ReturnType<typeof runSuite>>;
  try {
    results = await runSuite(p, log, io.signal);
  } catch (e) {
    if (!io.signal?.aborted) return faultExit("bench", io.err, e);
    // Rounds interleave the fixes: a cut-short suite would not compare them fairly.
    const sig = String(io.signal.reason ?? "SIGINT");
    io.err(
      `gupstress bench: interrupted by ${sig}: nothing saved (a partial suite is not a fair comparison)\n`,
    );
    return sig === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
  }
  // The results are printed even when saving them fails: a long run is not lost.
  let saveError: string | null = null;
  try {
    const [dated] = saveResults(results, dir);
    log(`saved ${dated} (and latest.json) in ${(results.wallMs / 1000).toFixed(1)} s`);
  } catch (e) {
    saveError = (e as Error).message.split("\n")[0];
  }
  if (json) io.out(`${JSON.stringify(results)}\n`);
  else io.out(markdownSummary(results));
  if (saveError !== null) {
    io.err(`gupstress bench: results printed but not saved in ${dir} (${saveError})\n`);
    return EXIT.fault;
  }
  return EXIT.ok;
}
