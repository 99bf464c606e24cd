// gupstress report (npm run report): results/latest.json (or a fresh --quick run when there is
// none) -> results/report.html (self-contained) and results/report.md.
// Prints the path of the HTML file.

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../bench/atomic.js";
import {
  defaultResultsDir,
  loadResults,
  loadStorm,
  STORM_LATEST,
  saveResults,
} from "../bench/files.js";
import { acquireLock, LockHeld } from "../bench/lock.js";
import { ResultsFileError } from "../bench/read.js";
import { plan, runSuite } from "../bench/suite.js";
import { MODEL_LIMITS } from "../explore/model.js";
import { type FamilyReport, familyHtml, familyMarkdown, familyReport } from "../report/family.js";
import { htmlTable, renderHtml } from "../report/html.js";
import { markdownSummary } from "../report/markdown.js";
import type { BenchResults } from "../report/results.js";
import { stormHtml, stormMarkdown } from "../report/storm.js";
import { DEFAULT_SCENARIO, SCENARIO_NAMES } from "../scenarios/index.js";
import { EXIT, type FlagSpec, flagHelp, parseFlags, usageExit } from "./args.js";
import { faultExit } from "./fault.js";
import { type Io, signalExit } from "./io.js";

export const REPORT_FLAGS: FlagSpec[] = [
  {
    name: "scenario",
    kind: "enum",
    arg: "NAME",
    values: SCENARIO_NAMES,
    help: `the scenario 'bench --quick' measures when there are no results yet (default ${DEFAULT_SCENARIO})`,
  },
  {
    name: "in",
    kind: "string",
    arg: "FILE",
    help: "results to read (default: results/latest.json); storm-latest.json beside it (bench --storm), when there is one, adds the unshare storms",
  },
  {
    name: "out",
    kind: "string",
    arg: "DIR",
    help: "where to write report.html and report.md (default: results/)",
  },
  {
    name: "ptes",
    kind: "int",
    arg: "N",
    min: MODEL_LIMITS.ptes.min,
    max: MODEL_LIMITS.ptes.max,
    help: "pages in the explorer's region for the scenario x fix table and 'why both' (default 2; 3 is the explorer's default, slower)",
  },
  { name: "help", kind: "bool", help: "this help" },
];

export async function reportCommand(argv: readonly string[], io: Io): Promise<number> {
  let flags: Map<string, unknown>;
  try {
    flags = parseFlags(argv, REPORT_FLAGS);
  } catch (e) {
    return usageExit("report", io.err, e);
  }
  if (flags.get("help") === true) {
    io.out(
      `usage: npm run report -- [flags]      (gupstress report [flags])\n\nWrites an HTML report with inline SVG charts and a Markdown summary from the latest bench results\n(runs 'bench --quick' first when there are none) and prints the HTML file's path.\n\n${flagHelp(REPORT_FLAGS)}\n`,
    );
    return EXIT.ok;
  }
  const dir = (flags.get("out") as string | undefined) ?? defaultResultsDir();
  const given = flags.get("in") as string | undefined;
  const file = given ?? join(defaultResultsDir(), "latest.json");
  let results: BenchResults | null;
  try {
    results = loadResults(file);
  } catch (e) {
    if (!(e instanceof ResultsFileError)) throw e;
    io.err(`gupstress report: ${e.message}\n`);
    return EXIT.usage;
  }
  const loaded = results !== null;
  if (results === null) {
    if (given !== undefined) {
      io.err(`gupstress report: ${given} does not exist (run 'npm run bench' first)\n`);
      return EXIT.usage;
    }
    io.err(`no results at ${file}: running 'bench --quick' first\n`);
    const resultsDir = defaultResultsDir();
    let release: () => void;
    try {
      mkdirSync(resultsDir, { recursive: true });
      release = acquireLock(resultsDir);
    } catch (e) {
      io.err(`gupstress report: cannot run 'bench --quick': ${(e as Error).message}\n`);
      return e instanceof LockHeld ? EXIT.usage : EXIT.fault;
    }
    try {
      results = await runSuite(
        plan(true, (flags.get("scenario") as string | undefined) ?? DEFAULT_SCENARIO),
        (s) => io.err(`${s}\n`),
        io.signal,
      );
      saveResults(results, resultsDir);
    } catch (e) {
      if (io.signal?.aborted) {
        const sig = String(io.signal.reason ?? "SIGINT");
        io.err(
          `gupstress report: interrupted by ${sig} during 'bench --quick': no report written\n`,
        );
        return signalExit(sig);
      }
      if (results === null) return faultExit("report", io.err, e);
      io.err(
        `gupstress report: cannot save the bench results in ${resultsDir} (${(e as Error).message.split("\n")[0]})\n`,
      );
      return EXIT.fault;
    } finally {
      release();
    }
  }
  // Storm results (bench --storm) beside the bench results: shown when there are some.
  const stormFile = join(dirname(file), STORM_LATEST);
  let storm: ReturnType<typeof loadStorm> = null;
  try {
    storm = loadStorm(stormFile);
  } catch (e) {
    if (!(e instanceof ResultsFileError)) throw e;
    io.err(`gupstress report: left out the storm section: ${e.message}\n`);
  }
  const html = join(dir, "report.html");
  const md = join(dir, "report.md");
  let htmlText: string;
  let mdText: string;
  try {
    // Every scenario x fix through the explorer (seconds), with the bench's figures where it has them.
    const family: FamilyReport | null = await familyReport(results, {
      ptes: (flags.get("ptes") as number | undefined) ?? 2,
      signal: io.signal,
    });
    if (family === null) {
      const sig = String(io.signal?.reason ?? "SIGINT");
      io.err(
        `gupstress report: interrupted by ${sig} while exploring the scenarios: no report written\n`,
      );
      return signalExit(sig);
    }
    htmlText = renderHtml(
      results,
      `${storm === null ? "" : stormHtml(storm, htmlTable)}\n${familyHtml(family)}`,
    );
    mdText = `${markdownSummary(results)}\n${storm === null ? "" : `${stormMarkdown(storm)}\n`}${familyMarkdown(family)}`;
  } catch (e) {
    // The shape check covers what it can name; a field deeper down that is not
    // what the report reads is still the file's fault, not a bug.
    if (!loaded || !(e instanceof TypeError || e instanceof RangeError)) throw e;
    io.err(
      `gupstress report: ${file} is not a gupstress bench result the report can read (${e.message})\n`,
    );
    return EXIT.usage;
  }
  try {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(html, htmlText);
    writeFileAtomic(md, mdText);
  } catch (e) {
    io.err(`gupstress report: cannot write the report in ${dir} (${(e as Error).message})\n`);
    return EXIT.fault;
  }
  io.err(`wrote ${md}\n`);
  io.out(`${html}\n`);
  return EXIT.ok;
}
