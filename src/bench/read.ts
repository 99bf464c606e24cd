// Reading a results file without trusting it: a regular file of bounded size
// (a device, a FIFO or a huge file would block the main thread, and with it
// Ctrl-C), valid JSON, and the shape the report reads. Every problem is a
// ResultsFileError whose message is one line naming the file.

import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import type { BenchResults } from "../report/results.js";

/** A results file that cannot be used; the message is one line. */
export class ResultsFileError extends Error {
  override name = "ResultsFileError";
}

/** Results files are a few hundred KiB; anything past this is not one. */
export const MAX_RESULTS_BYTES = 64 * 1024 * 1024;

/** Read and check a results file; null when it does not exist. Throws ResultsFileError. */
export function readResultsFile(file: string): BenchResults | null {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new ResultsFileError(`${file}: cannot read it (${code ?? String(e)})`);
  }
  checkKind(file, st);
  let text: string;
  let fd = -1;
  try {
    // O_NONBLOCK: a FIFO swapped in after the stat must not block the open.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const fst = fstatSync(fd);
    checkKind(file, fst);
    const buf = Buffer.alloc(fst.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    text = buf.subarray(0, got).toString("utf8");
  } catch (e) {
    if (e instanceof ResultsFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ResultsFileError(`${file}: cannot read it (${code ?? String(e)})`);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  if (text.trim() === "") {
    throw new ResultsFileError(
      `${file} is empty (a bench run that did not finish writing?): run 'npm run bench' again`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ResultsFileError(
      `${file} is not valid JSON (truncated or damaged? ${(e as Error).message.split("\n")[0]}): run 'npm run bench' again`,
    );
  }
  const problem = shapeProblem(data);
  if (problem !== null) {
    throw new ResultsFileError(`${file} is not a gupstress bench result: ${problem}`);
  }
  return data as BenchResults;
}

function checkKind(file: string, st: { isFile(): boolean; isDirectory(): boolean; size: number }) {
  if (st.isDirectory()) throw new ResultsFileError(`${file} is a directory, not a results file`);
  if (!st.isFile()) {
    throw new ResultsFileError(
      `${file} is not a regular file (a device, FIFO or socket cannot be a results file)`,
    );
  }
  if (st.size > MAX_RESULTS_BYTES) {
    throw new ResultsFileError(
      `${file} is ${(st.size / 2 ** 20).toFixed(0)} MiB, more than a results file can be (${MAX_RESULTS_BYTES / 2 ** 20} MiB)`,
    );
  }
}

type Check = "number" | "string" | "boolean" | "object" | "array" | "object|null";

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

function typeOk(x: unknown, want: Check): boolean {
  switch (want) {
    case "array":
      return Array.isArray(x);
    case "object":
      return isObject(x);
    case "object|null":
      return x === null || isObject(x);
    default:
      return typeof x === want;
  }
}

/** The first field (a path) whose type is not what the report reads, or null. */
function fields(at: string, x: unknown, spec: Record<string, Check>): string | null {
  if (!isObject(x)) return `${at || "the top level"} is ${describe(x)}, not an object`;
  for (const [k, want] of Object.entries(spec)) {
    if (!typeOk(x[k], want)) return `${at ? `${at}.` : ""}${k} is ${describe(x[k])}, not ${want}`;
  }
  return null;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  if (x === undefined) return "missing";
  return `a ${typeof x}`;
}

const VARIANT: Record<string, Check> = {
  fix: "string",
  cpus: "number",
  rounds: "number",
  gupCallsPerSec: "number",
  gupLatencyNs: "object",
  collapseLatencyUs: "object",
  ipiWaitUs: "object|null",
  backoffRate: "number",
  fallbackRate: "number",
  collapsesPerSec: "number",
  ipiHandlerEntriesPerSec: "number",
  vsNone: "object",
  rme: "object",
};

const RACE: Record<string, Check> = {
  fix: "string",
  cpus: "number",
  iterations: "number",
  races: "number",
  racesPerMillion: "number",
  firstRaceMs: "object|null",
  trials: "number",
  censored: "number",
  trialLimitMs: "number",
  trialTimesMs: "array",
};

/** Why `data` is not a BenchResults the report can read, or null. */
export function shapeProblem(data: unknown): string | null {
  if (!isObject(data)) return `the top level is ${describe(data)}, not an object`;
  if (data.tool !== "gupstress-bench") return `"tool" is not "gupstress-bench"`;
  if (data.version !== 1) return `version ${JSON.stringify(data.version)} is not 1`;
  const top = fields("", data, {
    quick: "boolean",
    environment: "object",
    settings: "object",
    variants: "array",
    scaling: "array",
    micro: "object",
    racePower: "array",
    pool: "object",
    wallMs: "number",
  });
  if (top !== null) return top;
  const problems = [
    fields("environment", data.environment, { cores: "number", date: "string" }),
    fields("settings", data.settings, {
      rounds: "number",
      runMs: "number",
      cpus: "array",
      fixes: "array",
    }),
    fields("pool", data.pool, { coldStartupMs: "number", warmStartupMs: "number" }),
    ...(data.variants as unknown[]).map((v, i) => fields(`variants[${i}]`, v, VARIANT)),
    ...(data.scaling as unknown[]).map((v, i) => fields(`scaling[${i}]`, v, VARIANT)),
    ...(data.racePower as unknown[]).map((v, i) => fields(`racePower[${i}]`, v, RACE)),
  ];
  return problems.find((p) => p !== null) ?? null;
}
