// Where results live: results/ under the package root (git-ignored).
// Each bench run writes results/bench-<date>-<pid>-<random>.json and results/latest.json.

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResults } from "../report/results.js";
import { writeFileAtomic } from "./atomic.js";
import { readResultsFile } from "./read.js";

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
