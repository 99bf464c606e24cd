#!/usr/bin/env node
// npm run figures: runs the commands behind every figure in README.md and
// docs/*.md and rewrites those figures in place, each with the machine, the
// load and the date it was measured at. A figure lives between two markers:
//
//   <!-- figure: run npx gupstress explore --fix none -->   a command's output, verbatim
//   <!-- figure: NAME -->                                    a figure this file computes
//   ...                                                      (rewritten)
//   <!-- /figure -->
//
// Nothing else in the docs states a measured number. `--check` only parses
// the markers (the test suite runs it); `--only ID,...` refreshes some blocks;
// `--long` also runs the long blocks (the 60 s holds, the 10-minute soak),
// which otherwise keep the figures and the stamp of their last long run.

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
} from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { writeFileAtomic } from "../src/bench/atomic.js";
import { loadStorm, packageRoot, STORM_LATEST } from "../src/bench/files.js";
import { readResultsFile } from "../src/bench/read.js";
import { headlines, markdownSummary } from "../src/report/markdown.js";
import { stormMarkdown } from "../src/report/storm.js";
import { medianEstimate } from "../src/stats/stats.js";

const ROOT = packageRoot();
const CLI = join(ROOT, "dist", "src", "cli.js");
const MARKER = /<!-- figure: (.+?) -->\n([\s\S]*?)<!-- \/figure -->/g;

interface Block {
  file: string;
  spec: string;
}

type Generator = (spec: string) => string | Promise<string>;

/** A command as written in the docs, run against this checkout's build. */
function argvOf(command: string): string[] {
  const words = command.trim().split(/\s+/);
  if (words[0] === "npx" && words[1] === "gupstress") return [CLI, ...words.slice(2)];
  throw new Error(`figure command must start with 'npx gupstress': ${command}`);
}

/** Run a gupstress command; exit codes 0, 1 (a race or a caught mutant) and 4 (inconclusive) are results. */
function gupstress(command: string, timeoutMs = 15 * 60_000): string {
  const r = spawnSync(process.execPath, argvOf(command), {
    cwd: ROOT,
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`${command}: ${r.error.message}`);
  if (r.status === null || ![0, 1, 4].includes(r.status))
    throw new Error(`${command}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  return r.stdout;
}

function json<T = Record<string, unknown>>(command: string): T {
  return JSON.parse(gupstress(command)) as T;
}

const load = (): number => os.loadavg()[0];

function commit(): string {
  // A copy of the tree on a lent machine: its git metadata may be older than its files.
  if (process.env.GUPSTRESS_COMMIT) return process.env.GUPSTRESS_COMMIT;
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
  } catch {
    return "unknown commit";
  }
}

function machine(): string {
  const cpu = os.cpus()[0]?.model.replace(/\s+/g, " ").trim() ?? "unknown CPU";
  const usable = os.availableParallelism();
  const all = os.cpus().length;
  // Pinned (taskset): the run may use `usable` of the machine's cores.
  const cores = usable < all ? `${usable} cores (pinned, of ${all})` : `${usable} cores`;
  return `${cpu}, ${cores}, Node ${process.version}`;
}

/** The stamp under every figure: what measured it, on what, under what load, when. */
function stamp(before: number, after: number): string {
  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  return `<sub>\`npm run figures\`, ${date} UTC, commit ${commit()}: ${machine()}; load average ${before.toFixed(2)} before, ${after.toFixed(2)} after.</sub>\n`;
}

const fmt = (x: number, digits = 0): string =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const range = (xs: number[], digits = 0): string =>
  `${fmt(Math.min(...xs), digits)} to ${fmt(Math.max(...xs), digits)}`;

/** Every registered scenario, as `gupstress list` names them. */
function scenarioNames(): string[] {
  return json<{ scenarios: { name: string }[] }>("npx gupstress list --json").scenarios.map(
    (x) => x.name,
  );
}

/** `run CMD [| head N | tail N]`: the command's output as a code block. */
function runBlock(spec: string): string {
  const [command, filter] = spec.slice("run ".length).split(" | ");
  let out = gupstress(command).trimEnd().split("\n");
  const cut = /^(head|tail) (\d+)$/.exec(filter?.trim() ?? "");
  if (filter !== undefined && cut === null)
    throw new Error(`unknown filter '${filter}' in: ${spec}`);
  if (cut?.[1] === "tail") out = ["...", ...out.slice(-Number(cut[2]))];
  if (cut?.[1] === "head") out = [...out.slice(0, Number(cut[2])), "..."];
  return `\`\`\`\n$ ${command}\n${out.join("\n")}\n\`\`\`\n`;
}

interface StressJson {
  iterations: number;
  iterationsPerSec: number;
  racesPerMillion: number;
  firstRaceMs: number | null;
  races: number;
  confirmed: number;
  startupMs: number;
}

/** The measured-on-this-machine table of the README. */
function measuredTable(): string {
  const rows: string[][] = [];
  const none: StressJson[] = [];
  for (let i = 0; i < 5; i++)
    none.push(json<StressJson>(`npx gupstress stress --fix none --time 2 --json --seed ${i + 1}`));
  const first = none.map((r) => r.firstRaceMs).filter((x): x is number => x !== null);
  rows.push([
    "time to the first race, `none`",
    "`npx gupstress stress --fix none --time 2` (5 runs)",
    first.length === 0
      ? "no race in any run"
      : `median ${fmt(median(first), 1)} ms (${range(first, 1)} ms; ${none.length - first.length} of 5 without a race); ${range(none.map((r) => r.racesPerMillion))} races per million trials; ${none.every((r) => r.confirmed === r.races) ? "every race confirmed by data" : "some races not confirmed"}`,
  ]);
  rows.push([
    "lockstep throughput, 2 CPUs",
    "same",
    `${range(none.map((r) => r.iterationsPerSec))} iterations/s`,
  ]);
  const startup: number[] = [];
  for (let i = 0; i < 20; i++)
    startup.push(
      json<StressJson>("npx gupstress stress --fix recheck --iterations 16 --json").startupMs,
    );
  rows.push([
    "workers ready",
    "`npx gupstress stress --fix recheck --iterations 16` (20 runs, `startupMs`)",
    `median ${fmt(median(startup), 1)} ms (${range(startup, 1)} ms) for 2 CPUs`,
  ]);
  for (const scenario of scenarioNames()) {
    const matrix = json<{ runs: (StressJson & { fix: string; verdict: string })[] }>(
      `npx gupstress stress --scenario ${scenario} --time 2 --json`,
    );
    rows.push([
      `every fix, ${scenario}`,
      `\`npx gupstress stress --scenario ${scenario} --time 2\``,
      matrix.runs
        .map(
          (r) =>
            `${r.fix}: ${r.verdict}${r.races > 0 ? ` (first race ${fmt(r.firstRaceMs ?? 0, 1)} ms)` : ""}`,
        )
        .join("; "),
    ]);
    const explore = json<{ runs: ExploreRun[] }>(
      `npx gupstress explore --scenario ${scenario} --json`,
    );
    const total = explore.runs.reduce((n, r) => n + r.explored, 0);
    rows.push([
      `every interleaving, ${scenario}`,
      `\`npx gupstress explore --scenario ${scenario}\``,
      `${explore.runs.length} fixes, ${fmt(total)} interleavings, ${fmt(explore.runs.reduce((n, r) => n + r.states, 0))} distinct states in ${fmt(explore.runs.reduce((n, r) => n + r.ms, 0) / 1000, 2)} s; racing: ${
        explore.runs
          .filter((r) => r.violations > 0)
          .map((r) => r.fix)
          .join(", ") || "none"
      }; ${explore.runs.every((r) => r.complete) ? "all complete" : "not all complete"}`,
    ]);
  }
  const mutants = json<{
    mutants: {
      id: string;
      expected: string;
      explorer: { caught: boolean };
      stress?: { caught: boolean } | null;
    }[];
  }>("npx gupstress mutants --stress-seconds 2 --json");
  const killable = mutants.mutants.filter((m) => m.expected !== "equivalent");
  const equivalent = mutants.mutants.filter((m) => m.expected === "equivalent");
  const byStress = killable.filter((m) => m.stress?.caught);
  rows.push([
    "mutants",
    "`npx gupstress mutants --stress-seconds 2`",
    `explorer: ${killable.filter((m) => m.explorer.caught).length} of ${killable.length} killable mutants caught, ${equivalent.filter((m) => !m.explorer.caught).length} of ${equivalent.length} equivalent ones clean; 2 s of stress caught ${byStress.length} of ${killable.length}${
      byStress.length < killable.length
        ? ` (missed: ${killable
            .filter((m) => !m.stress?.caught)
            .map((m) => m.id)
            .join(", ")})`
        : ""
    }`,
  ]);
  const head = "| what | command | figure |\n|---|---|---|\n";
  return head + rows.map((r) => `| ${r.join(" | ")} |\n`).join("");
}

interface ExploreRun {
  scenario: string;
  fix: string;
  explored: number;
  states: number;
  ms: number;
  complete: boolean;
  violations: number;
  rangeChoices: number;
}

/** docs/explore.md's table: what the explorer covers, and how fast. */
function exploreFigures(): string {
  const rows: string[][] = [];
  const all = json<{ runs: ExploreRun[] }>("npx gupstress explore --json").runs;
  const sum = (f: (r: ExploreRun) => number) => all.reduce((s, r) => s + f(r), 0);
  rows.push([
    "default (2 CPUs, 3 PTEs), every fix",
    "exhaustive, no bound",
    `${fmt(sum((r) => r.explored))} interleavings, ${fmt(sum((r) => r.states))} states, ${fmt(sum((r) => r.ms) / 1000, 2)} s (\`npm run explore\` adds its \`tsc\` build)`,
  ]);
  const wide = json<ExploreRun>(
    "npx gupstress explore --fix ipi-skip-one --cpus 3 --ptes 2 --json",
  );
  rows.push([
    "`--fix ipi-skip-one --cpus 3 --ptes 2`",
    "exhaustive, no bound",
    `${fmt(wide.explored)} interleavings, ${fmt(wide.states)} states, ${wide.rangeChoices} choices of ranges, ${fmt(wide.ms / 1000, 2)} s; ${wide.violations > 0 ? "races" : "clean"}`,
  ]);
  const random = json<ExploreRun>(
    "npx gupstress explore --fix recheck --strategy random --runs 100000 --json",
  );
  rows.push([
    "`--fix recheck --strategy random --runs 100000`",
    "sampled runs",
    `${fmt(random.explored / (random.ms / 1000))} interleavings/s`,
  ]);
  return `| configuration | what | figure |\n|---|---|---|\n${rows.map((r) => `| ${r.join(" | ")} |\n`).join("")}`;
}

/** README: the adapting window against fixed delays, three pairs side by side. */
function adaptPairs(): string {
  type R = StressJson & { windowHits: number };
  const rows: string[] = [];
  for (let seed = 1; seed <= 3; seed++) {
    for (const flag of ["", " --no-adapt"]) {
      const r = json<R>(`npx gupstress stress --fix none --time 3 --json --seed ${seed}${flag}`);
      rows.push(
        `| ${seed} | ${flag === "" ? "adapting" : "`--no-adapt`"} | ${fmt(r.iterations)} | ${fmt(r.windowHits)} | ${fmt(r.races)} | ${r.firstRaceMs === null ? "-" : `${fmt(r.firstRaceMs, 1)} ms`} |`,
      );
    }
  }
  return `\`npx gupstress stress --fix none --time 3 --seed N [--no-adapt]\`:\n\n| seed | delays | iterations | window hits | races | first race |\n|---:|---|---:|---:|---:|---:|\n${rows.join("\n")}\n`;
}

let benchCache: { dir: string; file: string } | null = null;

/** One full bench run, shared by every block that quotes it. */
function bench(): string {
  if (benchCache === null) {
    const dir = mkdtempSync(join(os.tmpdir(), "gupstress-figures-"));
    gupstress(`npx gupstress bench --out ${dir}`, 10 * 60_000);
    const file = readdirSync(dir).find((f) => f.startsWith("bench-") && f.endsWith(".json"));
    if (file === undefined) throw new Error("bench wrote no results");
    benchCache = { dir, file: join(dir, file) };
  }
  return benchCache.file;
}

function benchResults() {
  const res = readResultsFile(bench());
  if (res === null) throw new Error("bench results unreadable");
  return res;
}

/** The CPU counts (of 2, 4, 8) that fit beside `extra` more threads on this machine's cores; 2 at least. */
function cpusThatFit(extra: number): string {
  const fit = [2, 4, 8].filter((c) => c + extra <= os.availableParallelism());
  return (fit.length > 0 ? fit : [2]).join(",");
}

/** The page-table scenario's full bench with 4 bystanders: IPI-sync against rcu-defer against sync-rcu. */
function benchTableFree(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "gupstress-figures-"));
  try {
    gupstress(
      `npx gupstress bench --scenario gup-vs-table-free --bystanders 4 --out ${dir}`,
      20 * 60_000,
    );
    const res = readResultsFile(join(dir, "latest.json"));
    if (res === null) throw new Error("bench wrote no results");
    return `\`npx gupstress bench --scenario gup-vs-table-free --bystanders 4\`:\n\n${markdownSummary(res)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The unshare storms, every policy, with 4 bystanders, at the CPU counts that fit the cores. */
function stormFull(): string {
  return stormFigure(
    `npx gupstress bench --scenario gup-vs-hugetlb-unshare --storm --bystanders 4 --cpus ${cpusThatFit(4)}`,
  );
}

/** docs/hugetlb-unshare.md: the full storm plan at 2 CPUs only, which a 2-core machine runs without oversubscribing. */
function storm2(): string {
  return stormFigure("npx gupstress bench --scenario gup-vs-hugetlb-unshare --storm --cpus 2");
}

function stormFigure(command: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), "gupstress-figures-"));
  try {
    gupstress(`${command} --out ${dir}`, 20 * 60_000);
    const res = loadStorm(join(dir, STORM_LATEST));
    if (res === null) throw new Error("the storm wrote no results");
    return `\`${command}\`:\n\n${stormMarkdown(res)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function testsFigure(): string {
  const dir = mkdtempSync(join(os.tmpdir(), "gupstress-figures-"));
  const out = join(dir, "vitest.json");
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, "node_modules", "vitest", "vitest.mjs"),
      "run",
      "--reporter=json",
      `--outputFile=${out}`,
    ],
    {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 20 * 60_000,
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const res = JSON.parse(readFileSync(out, "utf8")) as {
    numTotalTests: number;
    numPassedTests: number;
    testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[];
  };
  rmSync(dir, { recursive: true, force: true });
  const failed = res.testResults.flatMap((f) =>
    f.assertionResults
      .filter((a) => a.status === "failed")
      .map((a) => `${f.name.replace(`${ROOT}/`, "")}: ${a.fullName}`),
  );
  if (r.status !== 0 && failed.length === 0) throw new Error(`vitest exited ${r.status}`);
  return failed.length === 0
    ? `\`npm test\`: ${res.numTotalTests} tests, all passing, in ${fmt(seconds)} s (vitest alone, after the build and lint).\n`
    : `\`npm test\`: ${res.numTotalTests} tests in ${fmt(seconds)} s (vitest alone, after the build and lint); ${failed.length} failed in this run:\n\n${failed.map((f) => `- ${f}`).join("\n")}\n`;
}

/** The same command in a child process, without blocking: for figures that run jobs side by side. */
function gupstressAsync(command: string, cores: readonly number[] | null = null): Promise<string> {
  return new Promise((resolve, reject) => {
    const child =
      cores === null
        ? spawn(process.execPath, argvOf(command), { cwd: ROOT })
        : spawn("taskset", ["-c", cores.join(","), process.execPath, ...argvOf(command)], {
            cwd: ROOT,
          });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", (e) => reject(new Error(`${command}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (code === null || ![0, 1, 4].includes(code))
        reject(new Error(`${command}: exit ${code ?? signal}\n${err}`));
      else resolve(out);
    });
  });
}

function stopHogs(hogs: ChildProcess[]): void {
  for (const h of hogs) h.kill("SIGKILL");
}

/**
 * The 2-core machines this one holds: on a machine of 4 or more cores that
 * this process may use whole, and with taskset, each pair of cores is one
 * (its runs pinned there, its busy loops too); otherwise the machine itself,
 * unpinned.
 */
let machinesCache: (readonly number[] | null)[] | null = null;
function twoCoreMachines(): (readonly number[] | null)[] {
  if (machinesCache === null) {
    const n = os.availableParallelism();
    const whole = n === os.cpus().length;
    const taskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0;
    machinesCache =
      n < 4 || !whole || !taskset
        ? [null]
        : Array.from({ length: Math.floor(n / 2) }, (_, i) => [2 * i, 2 * i + 1]);
  }
  return machinesCache;
}

/** Busy loops beside each 2-core machine's runs: its cores, or every core when unpinned. */
function busyLoops(): number {
  const first = twoCoreMachines()[0];
  return first === null ? os.availableParallelism() : first.length;
}

/** Every scenario's fixes that expect `expect`, as `gupstress list` gives them. */
function fixesExpecting(expect: "race" | "clean"): { scenario: string; fix: string }[] {
  const list = json<{ scenarios: { name: string; fixes: { name: string; expect: string }[] }[] }>(
    "npx gupstress list --json",
  );
  return list.scenarios.flatMap((s) =>
    s.fixes.filter((f) => f.expect === expect).map((f) => ({ scenario: s.name, fix: f.name })),
  );
}

/**
 * Run `commands` on 2-core machines (twoCoreMachines), each beside as many
 * busy loops as its cores when `busy`; results in the commands' order, with
 * each command's wall time.
 */
async function twoCoreRuns(
  commands: string[],
  busy: boolean,
): Promise<{ out: string; wallMs: number }[]> {
  const machines = twoCoreMachines();
  const results: { out: string; wallMs: number }[] = new Array(commands.length);
  let next = 0;
  const job = async (cores: readonly number[] | null) => {
    const loops = busy ? busyLoops() : 0;
    const hogs = Array.from({ length: loops }, () =>
      cores === null
        ? spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" })
        : spawn("taskset", ["-c", cores.join(","), process.execPath, "-e", "for(;;){}"], {
            stdio: "ignore",
          }),
    );
    try {
      while (next < commands.length) {
        const i = next++;
        process.stderr.write(`figures:   ${commands[i]}\n`);
        const t0 = performance.now();
        results[i] = {
          out: await gupstressAsync(commands[i], cores),
          wallMs: performance.now() - t0,
        };
      }
    } finally {
      stopHogs(hogs);
    }
  };
  await Promise.all(machines.map(job));
  return results;
}

/** How the 2-core figures ran, for their captions. */
function twoCoreNote(): string {
  const m = twoCoreMachines();
  return m[0] === null
    ? ""
    : ` Run ${m.length} at a time, each pinned to its own 2 cores (taskset), with its busy loops, where there are any, pinned beside it.`;
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

interface MatrixJson {
  ok: boolean;
  runs: (StressJson & {
    fix: string;
    verdict: string;
    ok: boolean;
    expect: string;
    durationMs: number;
  })[];
}

/**
 * Issue 9's table: time to the first race from a cold process, and the whole
 * `npm run stress` matrix, 20 runs each, idle and beside busy loops. Run with
 * `--only first-race-20` etc.; the machine should be otherwise idle.
 */
async function firstRace20(): Promise<string> {
  const rows: string[] = [];
  for (const busy of [false, true]) {
    const done = await twoCoreRuns(
      Array.from(
        { length: 20 },
        (_, i) => `npx gupstress stress --fix none --until-race --time 10 --json --seed ${i + 1}`,
      ),
      busy,
    );
    const runs = done.map((d) => JSON.parse(d.out) as StressJson);
    const walls = done.map((d) => d.wallMs);
    const first = runs.map((r) => r.firstRaceMs).filter((x): x is number => x !== null);
    const startup = runs.map((r) => r.startupMs);
    const missed = runs.length - first.length;
    rows.push(
      `| ${busy ? `${busyLoops()} busy loops` : "no busy loops"} | ${first.length === 0 ? "-" : `${fmt(quantile(first, 0.5), 1)} ms`} | ${first.length === 0 ? "-" : `${fmt(quantile(first, 0.9), 1)} ms`} | ${first.length === 0 ? "-" : `${fmt(Math.max(...first), 1)} ms`} | ${missed} | ${fmt(quantile(startup, 0.5), 1)} ms | ${fmt(quantile(walls, 0.5))} ms |`,
    );
  }
  return `\`npx gupstress stress --fix none --until-race --time 10 --seed N\`, N = 1..20, a fresh process each (first race: from the moment every CPU is online; startup: until then; process: the whole command's wall time).${twoCoreNote()}\n\n| load | first race p50 | p90 | max | runs without a race | startup p50 | process p50 |\n|---|---:|---:|---:|---:|---:|---:|\n${rows.join("\n")}\n`;
}

/**
 * README: what the barrier and the JIT delay each give a cold start, side by
 * side: 12 fresh processes per variant, interleaved, then a 5-second run of
 * each, idle.
 */
async function coldStart(): Promise<string> {
  const variants = [
    { flags: "", name: "default (barrier, JIT delayed)" },
    { flags: " --eager-jit", name: "`--eager-jit`" },
    { flags: " --no-barrier", name: "`--no-barrier`" },
    { flags: " --no-barrier --eager-jit", name: "`--no-barrier --eager-jit` (before)" },
  ];
  const n = 12;
  const commands = Array.from({ length: n }, (_, i) =>
    variants.map(
      (v) =>
        `npx gupstress stress --fix none --until-race --time 10 --json --seed ${i + 1}${v.flags}`,
    ),
  ).flat();
  const done = await twoCoreRuns(commands, false);
  const rows = variants.map((v, k) => {
    const runs = done
      .filter((_, i) => i % variants.length === k)
      .map((d) => JSON.parse(d.out) as StressJson);
    const first = runs.map((r) => r.firstRaceMs).filter((x): x is number => x !== null);
    const iters = runs.map((r) => r.iterations);
    const five = json<StressJson & { iterations: number }>(
      `npx gupstress stress --fix none --time 5 --json --seed 1${v.flags}`,
    );
    return `| ${v.name} | ${first.length === 0 ? "-" : `${fmt(quantile(first, 0.5), 1)} ms`} | ${first.length === 0 ? "-" : `${fmt(quantile(first, 0.9), 1)} ms`} | ${runs.length - first.length} | ${fmt(quantile(iters, 0.5))} | ${fmt(
      quantile(
        runs.map((r) => r.startupMs),
        0.5,
      ),
      1,
    )} ms | ${fmt(five.iterations)} | ${fmt(five.races)} |`;
  });
  return `\`npx gupstress stress --fix none --until-race --time 10 --seed N [FLAGS]\`, N = 1..${n}, a fresh process each, the variants interleaved; then \`npx gupstress stress --fix none --time 5 --seed 1 [FLAGS]\` once each.${twoCoreNote()}\n\n| variant | first race p50 | p90 | runs without a race | trials to it p50 | startup p50 | 5 s: trials | 5 s: races |\n|---|---:|---:|---:|---:|---:|---:|---:|\n${rows.join("\n")}\n`;
}

/**
 * README: lockstep traced (one trial in 61 stamped) against --no-trace, 12
 * pairs of 2-second runs, each pair back to back, which goes first
 * alternating (the machine's drift falls on both sides).
 */
function traceCost(): string {
  const ratios: number[] = [];
  const rows: string[] = [];
  for (let seed = 1; seed <= 30; seed++) {
    const flags = seed % 2 === 1 ? ["", " --no-trace"] : [" --no-trace", ""];
    const runs = flags.map((flag) =>
      json<StressJson & { iterationsPerSec: number }>(
        `npx gupstress stress --fix none --time 2 --json --seed ${seed}${flag}`,
      ),
    );
    const [a, b] = seed % 2 === 1 ? runs : [runs[1], runs[0]];
    ratios.push(a.iterationsPerSec / b.iterationsPerSec);
    rows.push(
      `| ${seed} | ${fmt(a.iterationsPerSec)} | ${fmt(b.iterationsPerSec)} | ${fmt((100 * a.iterationsPerSec) / b.iterationsPerSec, 1)}% |`,
    );
  }
  const m = medianEstimate(ratios);
  const pct = (x: number) => `${fmt(100 * x, 1)}%`;
  return `\`npx gupstress stress --fix none --time 2 --seed N\` and the same with \`--no-trace\`, N = 1..${ratios.length}, back to back, which first alternating: traced runs at **${pct(m.value)}** of the untraced iterations/s (median of ${ratios.length} pairs; 95% interval ${pct(m.lo)} to ${pct(m.hi)}, from order statistics; single pairs ${pct(Math.min(...ratios))} to ${pct(Math.max(...ratios))}: the machine's own steps, the noise-floor figure in docs/bench.md).\n\n<details><summary>The ${ratios.length} pairs</summary>\n\n| seed | traced it/s | untraced it/s | traced / untraced |\n|---:|---:|---:|---:|\n${rows.join("\n")}\n\n</details>\n`;
}

/**
 * The machine's own noise, for the margins: 40 windows of 100 ms of (a) one
 * thread's arithmetic loop and (b) two threads passing a word back and forth
 * through shared memory (each on its own 64-byte line). A cost that needs two
 * threads to talk (an IPI and its ack, a walker reading what the mutator
 * wrote) cannot be steadier across rounds than (b).
 */
async function noiseFloor(): Promise<string> {
  const WINDOWS = 40;
  const body = `
const { parentPort, workerData } = require("node:worker_threads");
const a = new Int32Array(workerData.sab);
const out = [];
if (workerData.role === "alone") {
  let x = 1;
  for (let w = 0; w < ${WINDOWS}; w++) {
    let n = 0; const t = performance.now();
    while (performance.now() - t < 100) { for (let i = 0; i < 10000; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0; n++; }
    out.push(n * 10000);
  }
  parentPort.postMessage({ out, x });
} else if (workerData.role === "ping") {
  for (let w = 0; w < ${WINDOWS}; w++) {
    let n = 0; const t = performance.now();
    while (performance.now() - t < 100) {
      for (let i = 0; i < 1000; i++) { Atomics.store(a, 0, 1); while (Atomics.load(a, 16) !== 1) {} Atomics.store(a, 16, 0); }
      n += 1000;
    }
    out.push(n);
  }
  Atomics.store(a, 32, 1);
  Atomics.store(a, 0, 1);
  parentPort.postMessage({ out });
} else {
  for (;;) {
    while (Atomics.load(a, 0) !== 1) {}
    Atomics.store(a, 0, 0);
    if (Atomics.load(a, 32) === 1) break;
    Atomics.store(a, 16, 1);
  }
  parentPort.postMessage({ out });
}`;
  const run = async (roles: string[]): Promise<number[]> => {
    const sab = new SharedArrayBuffer(256);
    const ws = roles.map((role) => new Worker(body, { eval: true, workerData: { sab, role } }));
    try {
      const res = await Promise.all(
        ws.map(
          (w) =>
            new Promise<{ out: number[] }>((ok, bad) => {
              w.once("message", ok);
              w.once("error", bad);
            }),
        ),
      );
      return res[0].out;
    } finally {
      await Promise.all(ws.map((w) => w.terminate()));
    }
  };
  const alone = await run(["alone"]);
  const pairs = await run(["ping", "pong"]);
  const row = (name: string, xs: number[]) => {
    const [p10, p50, p90] = [0.1, 0.5, 0.9].map((q) => quantile(xs, q));
    return `| ${name} | ${fmt(p10)} | ${fmt(p50)} | ${fmt(p90)} | ${fmt(p90 / p10, 2)} |`;
  };
  const spread = quantile(pairs, 0.9) / quantile(pairs, 0.1);
  return `Each window is 100 ms; ${WINDOWS} windows in a row, one probe after the other.

| probe | p10 per window | p50 | p90 | p90 / p10 |
|---|---:|---:|---:|---:|
${row("one thread, arithmetic (loop iterations)", alone)}
${row("two threads, a word passed back and forth (round trips)", pairs)}

The round trips per window, in order (thousands): ${pairs.map((x) => fmt(x / 1000)).join(" ")}.

Two threads talking through memory vary ${fmt(spread, 2)}-fold between windows here, where one thread alone varies ${fmt(quantile(alone, 0.9) / quantile(alone, 0.1), 2)}-fold.
`;
}

/** `npm run stress` (every fix of the default scenario, each until its verdict) 20 times. */
function stress20(busy: boolean): () => Promise<string> {
  return async () => {
    const done = await twoCoreRuns(
      Array.from({ length: 20 }, (_, i) => `npx gupstress stress --json --seed ${i + 1}`),
      busy,
    );
    const runs = done.map((d) => JSON.parse(d.out) as MatrixJson);
    const fixes = runs[0].runs.map((r) => r.fix);
    const cells = fixes.map((fix) => {
      const of = runs.map((m) => m.runs.find((r) => r.fix === fix));
      const count = (v: string) => of.filter((r) => r?.verdict === v).length;
      const race = of.filter((r) => r !== undefined && r.races > 0).map((r) => r?.firstRaceMs ?? 0);
      const secs = of.filter((r) => r !== undefined).map((r) => (r?.durationMs ?? 0) / 1000);
      return `| ${fix} | ${of[0]?.expect ?? "?"} | ${count("race")} | ${count("clean")} | ${count("inconclusive")} | ${of.filter((r) => r?.ok).length} | ${race.length > 0 ? `${fmt(quantile(race, 0.5), 1)} ms` : "-"} | ${fmt(quantile(secs, 0.5), 1)} s / ${fmt(Math.max(...secs), 1)} s |`;
    });
    const ok = runs.filter((m) => m.ok).length;
    return `\`npx gupstress stress --seed N\` (= \`npm run stress\`), N = 1..20, ${busy ? `beside ${busyLoops()} busy loops` : "idle"}: **${ok} of 20** runs gave every fix its expected verdict (a racy fix races; a clean fix is clean, or inconclusive only when the control did not race; never a false race).${twoCoreNote()}\n\n| fix | expected | race | clean | inconclusive | as expected | first race p50 | time p50 / max |\n|---|---|---:|---:|---:|---:|---:|---:|\n${cells.join("\n")}\n`;
  };
}

/**
 * Every scenario's racy fixes: time to the first race from a cold process,
 * 5 runs idle and 5 beside as many busy loops as cores, each bounded at 10 s.
 */
async function racyFamily(): Promise<string> {
  const todo = fixesExpecting("race");
  const cell = (runs: StressJson[]): string => {
    const first = runs.map((r) => r.firstRaceMs).filter((x): x is number => x !== null);
    const missed = runs.length - first.length;
    return first.length === 0
      ? `no race in ${runs.length} runs`
      : `${fmt(quantile(first, 0.5), 1)} ms / ${fmt(Math.max(...first), 1)} ms${missed > 0 ? `, ${missed} of ${runs.length} without a race` : ""}`;
  };
  const commands = todo.flatMap((t) =>
    [1, 2, 3, 4, 5].map(
      (seed) =>
        `npx gupstress stress --scenario ${t.scenario} --fix ${t.fix} --until-race --time 10 --seed ${seed} --json --quiet`,
    ),
  );
  const byLoad: StressJson[][] = [];
  for (const busy of [false, true])
    byLoad.push((await twoCoreRuns(commands, busy)).map((d) => JSON.parse(d.out) as StressJson));
  const rows = todo.map(
    (t, k) =>
      `| ${t.scenario} | ${t.fix} | ${byLoad.map((runs) => cell(runs.slice(5 * k, 5 * k + 5))).join(" | ")} |`,
  );
  return `\`npx gupstress stress --scenario S --fix F --until-race --time 10 --seed N\`, N = 1..5, a fresh process each; time to the first race from the moment every CPU is online, median / slowest of 5.${twoCoreNote()}\n\n| scenario | fix | no busy loops | ${busyLoops()} busy loops |\n|---|---|---|---|\n${rows.join("\n")}\n`;
}

/**
 * Every scenario's clean fixes, each to at least 5 million GUP-fast calls on
 * 2 CPUs (freerun, untraced): the "0 races in 5 million" target. On a bigger
 * machine the runs go side by side, each pinned to its own 2 cores (twoCoreRuns).
 */
async function clean5m(): Promise<string> {
  const todo = fixesExpecting("clean");
  const t0 = performance.now();
  const done = await twoCoreRuns(
    todo.map(
      (t, i) =>
        `npx gupstress stress --scenario ${t.scenario} --fix ${t.fix} --mode freerun --no-trace --cpus 2 --iterations 5000000 --time 3600 --seed ${i + 1} --json --quiet`,
    ),
    false,
  );
  const runs = done.map(
    (d) =>
      JSON.parse(d.out) as StressJson & {
        verdict: string;
        windowHits: number;
        durationMs: number;
        undeclared: string[];
        mutatorOps: { total: number };
      },
  );
  const rows = runs.map(
    (r, i) =>
      `| ${todo[i].scenario} | ${todo[i].fix} | ${fmt(r.iterations)} | ${fmt(r.mutatorOps.total)} | ${r.races} | ${r.undeclared.length} | ${fmt(r.windowHits)} | ${r.verdict} | ${fmt(r.durationMs / 1000)} s |`,
  );
  const races = runs.reduce((n, r) => n + r.races, 0);
  return `\`npx gupstress stress --scenario S --fix F --mode freerun --no-trace --cpus 2 --iterations 5000000 --time 3600 --seed N\` for every clean fix (${runs.length} runs in ${fmt((performance.now() - t0) / 60_000, 1)} minutes): **${races} races** in ${fmt(runs.reduce((n, r) => n + r.iterations, 0))} GUP-fast calls.${twoCoreNote()}\n\n| scenario | fix | GUP-fast calls | mutator operations | races | undeclared | window hits | verdict | time |\n|---|---|---:|---:|---:|---:|---:|---|---:|\n${rows.join("\n")}\n`;
}

function longBlock(): string {
  const rows: string[] = [];
  for (const fix of ["recheck", "ipi", "upstream"]) {
    const r = json<StressJson & { iterations: number; undeclared: string[] }>(
      `npx gupstress stress --fix ${fix} --time 60 --json`,
    );
    rows.push(
      `| \`npx gupstress stress --fix ${fix} --time 60\` | ${fmt(r.iterations)} iterations, ${r.races} races, ${r.undeclared.length} undeclared |`,
    );
  }
  return `| command | result |\n|---|---|\n${rows.join("\n")}\n\n${runBlock("run npx gupstress soak --minutes 10")}`;
}

const NAMED: Record<string, Generator> = {
  measured: measuredTable,
  "adapt-pairs": adaptPairs,
  "explore-figures": exploreFigures,
  tests: testsFigure,
  "bench-summary": () => markdownSummary(benchResults()),
  "bench-headlines": () =>
    `${headlines(benchResults())
      .map((h) => `- ${h}`)
      .join("\n")}\n`,
  long: longBlock,
  "first-race-20": firstRace20,
  "cold-start": coldStart,
  "trace-cost": traceCost,
  "stress-20-idle": stress20(false),
  "stress-20-busy": stress20(true),
  "clean-5m": clean5m,
  "racy-family": racyFamily,
  "bench-table-free": benchTableFree,
  "storm-full": stormFull,
  "storm-2": storm2,
  "noise-floor": noiseFloor,
};

/** Figures that run only with --long or when --only names them. */
const LONG = new Set([
  "long",
  "first-race-20",
  "cold-start",
  "trace-cost",
  "stress-20-idle",
  "stress-20-busy",
  "clean-5m",
  "racy-family",
  "bench-table-free",
  "storm-full",
  "storm-2",
  "noise-floor",
]);

function generatorOf(spec: string): Generator | null {
  if (spec.startsWith("run ")) return runBlock;
  return NAMED[spec] ?? null;
}

function docFiles(): string[] {
  const docs = join(ROOT, "docs");
  return [
    join(ROOT, "README.md"),
    ...readdirSync(docs)
      .filter((f) => f.endsWith(".md"))
      .map((f) => join(docs, f)),
  ];
}

function blocksOf(file: string): Block[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(MARKER)].map((m) => ({ file, spec: m[1] }));
}

function usage(message: string): never {
  process.stderr.write(`gupstress figures: ${message}\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  let check = false;
  let long = false;
  let only: Set<string> | null = null;
  let skip = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--check") check = true;
    else if (a === "--long") long = true;
    else if (a === "--only") {
      const v = argv[++i];
      if (v === undefined) usage("--only needs a list of figure names (e.g. measured,tests)");
      only = new Set(v.split(","));
    } else if (a === "--skip") {
      const v = argv[++i];
      if (v === undefined) usage("--skip needs a list of figure names (e.g. tests)");
      skip = new Set(v.split(","));
    } else if (a === "--help") {
      process.stdout.write(
        "usage: npm run figures -- [--check] [--long] [--only NAME,...] [--skip NAME,...]\n\nRuns the commands behind the figures in README.md and docs/*.md and rewrites them.\n  --check   only check that every figure marker names a known figure\n  --long    also run the long figures (60 s holds, 10-minute soak, first-race-20, stress-20-idle, stress-20-busy, clean-5m, racy-family, bench-table-free, storm-full); --only NAME runs a long figure too\n  --only    refresh only these figures (names as in the markers; 'run' blocks by their full spec)\n  --skip    leave these figures as they are\n",
      );
      return;
    } else
      usage(
        `unknown flag '${a}' (accepted: --check, --long, --only NAME,..., --skip NAME,..., --help)`,
      );
  }
  const files = docFiles();
  const blocks = files.flatMap(blocksOf);
  const unknown = blocks.filter((b) => generatorOf(b.spec) === null);
  if (unknown.length > 0) {
    process.stderr.write(unknown.map((b) => `${b.file}: unknown figure '${b.spec}'\n`).join(""));
    process.exit(1);
  }
  for (const b of blocks.filter((b) => b.spec.startsWith("run ")))
    argvOf(b.spec.slice(4).split(" | ")[0]);
  if (check) {
    process.stdout.write(
      `${blocks.length} figures in ${files.length} files: every marker names a known figure\n`,
    );
    return;
  }
  // First make every figure asked for (in the docs' order), then write each
  // file: re-read under a lock and replace only the figures this run made, so
  // that two runs on different figures (side by side on a bigger machine) do
  // not undo each other.
  const wanted = (spec: string) =>
    !((only !== null && !only.has(spec)) || skip.has(spec)) &&
    (!LONG.has(spec) || long || (only?.has(spec) ?? false));
  const done = new Map<string, string>();
  const failures: string[] = [];
  for (const b of blocks) {
    if (!wanted(b.spec) || done.has(b.spec) || failures.some((f) => f.startsWith(`${b.spec}: `)))
      continue;
    process.stderr.write(`figures: ${b.spec}\n`);
    const before = load();
    try {
      const content = await (generatorOf(b.spec) as Generator)(b.spec);
      done.set(b.spec, `${content}${content.endsWith("\n\n") ? "" : "\n"}${stamp(before, load())}`);
    } catch (e) {
      // One figure that cannot be made keeps its old text; the others go on.
      failures.push(`${b.spec}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  for (const file of files) {
    if (!blocksOf(file).some((b) => done.has(b.spec))) continue;
    withLock(`${file}.lock`, () => {
      const text = readFileSync(file, "utf8");
      const next = text.replace(MARKER, (whole, spec: string) => {
        const body = done.get(spec);
        return body === undefined ? whole : `<!-- figure: ${spec} -->\n${body}<!-- /figure -->`;
      });
      if (next !== text) writeFileAtomic(file, next);
    });
  }
  if (benchCache !== null) rmSync(benchCache.dir, { recursive: true, force: true });
  process.stdout.write(`figures: ${done.size} figures rewritten\n`);
  if (failures.length > 0) {
    process.stderr.write(
      `figures: ${failures.length} could not be made (left as they were):\n${failures.map((f) => `  ${f}\n`).join("")}`,
    );
    process.exitCode = 1;
  }
}

/** Run `f` holding `path` (created exclusively); wait up to 30 s for another run to let go. */
function withLock(path: string, f: () => void): void {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      closeSync(openSync(path, "wx"));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (Date.now() > until) throw new Error(`${path} is held by another figures run`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    f();
  } finally {
    unlinkSync(path);
  }
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`figures: ${(e as Error).message}\n`);
  process.exit(1);
});
