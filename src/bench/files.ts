// Where results live: results/ under the package root (git-ignored).
// Each bench run writes results/bench-<date>-<pid>-<random>.json and results/latest.json.

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResults } from "../report/results.js";
import { writeFileAtomic } from "./atomic.js";
import { MAX_RESULTS_BYTES, ResultsFileError, readResultsFile } from "./read.js";
import type { StormResults } from "./storm.js";

/** The package root, whether we run from bench/ (vitest) or dist/bench/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

export function defaultResultsDir(): string {
  return join(packageRoot(), "results");
}

/** Save a result; returns [dated file, latest.json]. */
export function saveResults(results: BenchResults, dir: string): [string, string] {
  mkdirSync(dir, { recursive: true });
  const stamp = results.environment.date.replace(/[:.]/g, "-");
  // pid and a random suffix: two runs in the same millisecond never share a name.
  const unique = `${process.pid}-${randomBytes(3).toString("hex")}`;
  const dated = join(dir, `bench-${stamp}${results.quick ? "-quick" : ""}-${unique}.json`);
  const text = `${JSON.stringify(results, null, 2)}\n`;
  writeFileAtomic(dated, text);
  const latest = join(dir, "latest.json");
  writeFileAtomic(latest, text);
  return [dated, latest];
}

/**
 * Read a result file; null when it does not exist. Throws ResultsFileError (one
 * line) on anything that is not a bench result: see read.ts.
 */
export function loadResults(file: string): BenchResults | null {
  return readResultsFile(file);
}

/** Save storm results (bench --storm); returns [dated file, storm-latest.json]. */
export function saveStorm(results: StormResults, dir: string, quick: boolean): [string, string] {
  mkdirSync(dir, { recursive: true });
  const stamp = (results.date ?? new Date().toISOString()).replace(/[:.]/g, "-");
  const unique = `${process.pid}-${randomBytes(3).toString("hex")}`;
  const dated = join(dir, `storm-${stamp}${quick ? "-quick" : ""}-${unique}.json`);
  const text = `${JSON.stringify(results, null, 2)}\n`;
  writeFileAtomic(dated, text);
  const latest = join(dir, STORM_LATEST);
  writeFileAtomic(latest, text);
  return [dated, latest];
}

export const STORM_LATEST = "storm-latest.json";

const isString = (x: unknown): x is string => typeof x === "string";

/**
 * Storm results beside a bench result (its directory's storm-latest.json):
 * null when there are none; throws ResultsFileError (one line) when the file
 * is there but is not storm results.
 */
export function loadStorm(file: string): StormResults | null {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ResultsFileError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code})`);
  }
  if (!st.isFile() || st.size > MAX_RESULTS_BYTES)
    throw new ResultsFileError(`${file} is not a regular results file of a sane size`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ResultsFileError(
      `${file} is not valid JSON (${(e as Error).message.split("\n")[0]})`,
    );
  }
  const d = data as Partial<StormResults> | null;
  const ok =
    d !== null &&
    typeof d === "object" &&
    d.tool === "gupstress-storm" &&
    Array.isArray(d.cells) &&
    typeof d.plan === "object" &&
    d.plan !== null &&
    Array.isArray(d.plan.fixes) &&
    Array.isArray(d.plan.cpus) &&
    Array.isArray(d.plan.shares) &&
    d.cells.every(
      (c) =>
        typeof c === "object" &&
        c !== null &&
        isString(c.fix) &&
        typeof c.cpus === "number" &&
        typeof c.shares === "number" &&
        typeof c.unshareP50Us === "number",
    );
  if (!ok) throw new ResultsFileError(`${file} is not gupstress storm results`);
  return d as StormResults;
}
