// gupstress explore and gupstress mutants: flags -> explorer -> text or JSON -> exit code.

import { type Agreement, agree } from "../explore/agree.js";
import {
  DEFAULT_EXPLORE,
  type ExploreOptions,
  type ExploreReport,
  explore,
  parseReplay,
  replayTrace,
  STRATEGIES,
  type Strategy,
} from "../explore/explore.js";
import { MODEL_LIMITS } from "../explore/model.js";
import { allMutants, type MutantRow, runMutants } from "../explore/mutants.js";
import { ReplayError } from "../explore/scheduler.js";
import { drawInterleaving } from "../report/interleaving.js";
import { asExpected, type Expect, verdictOf } from "../run/verdict.js";
import {
  DEFAULT_SCENARIO,
  expectationOf,
  resolveFix,
  SCENARIO_NAMES,
  scenarioByName,
} from "../scenarios/index.js";
import type { Scenario } from "../scenarios/scenario.js";
import { EXIT, type FlagSpec, flagHelp, parseFlags, UsageError, usageExit } from "./args.js";

import { exploreProgress } from "./explore-progress.js";
import { faultExit } from "./fault.js";
import type { Io } from "./io.js";
import { exploreRecord, OUT_FLAG, RecordSink } from "./record.js";

const MUTANT_IDS = allMutants().map((m) => m.mutant.id);
const defaultScenario = scenarioByName(DEFAULT_SCENARIO);

export const EXPLORE_FLAGS: FlagSpec[] = [
  {
    name: "scenario",
    kind: "enum",
    arg: "NAME",
    values: SCENARIO_NAMES,
    help: `the race scenario: ${SCENARIO_NAMES.join(", ")} (default ${DEFAULT_SCENARIO})`,
  },
  {
    name: "fix",
    kind: "string",
    arg: "NAME",
    help: `fix variant (${DEFAULT_SCENARIO}: ${defaultScenario.fixes.map((f) => f.name).join(", ")}), all (default), a mutant id (gupstress list), or a weakened fix BASE~KNOB=VALUE`,
  },
  {
    name: "strategy",
    kind: "enum",
    arg: "NAME",
    values: STRATEGIES,
    help: "exhaustive (default: depth-first over every interleaving), pct, or random (seeded)",
  },
  {
    name: "preemptions",
    kind: "int",
    arg: "K",
    min: 0,
    max: 64,
    help: "exhaustive: at most K preemptions per interleaving (default: no bound)",
  },
  {
    name: "host-preemptions",
    kind: "int",
    arg: "K",
    min: 0,
    max: 8,
    help: "times the host may deschedule each walker's vCPU during its walk, interrupts off included (default: 1 under a fix whose IPIs read the host's preempted word, kvm-pv-flush; else 0, where a preemption is indistinguishable from a pause; 0: kvm-pv-flush is clean)",
  },
  { name: "depth", kind: "int", arg: "D", min: 1, max: 64, help: "pct: bug depth d (default 3)" },
  {
    name: "runs",
    kind: "int",
    arg: "N",
    min: 1,
    max: 1e9,
    help: "pct, random: interleavings to run (default 10000)",
  },
  {
    name: "seed",
    kind: "int",
    arg: "N",
    min: 0,
    max: 2 ** 31 - 1,
    help: "pct, random: seed (default 1)",
  },
  {
    name: "cpus",
    kind: "int",
    arg: "N",
    min: MODEL_LIMITS.cpus.min,
    max: MODEL_LIMITS.cpus.max,
    help: `CPUs: 1 mutator + N-1 GUP-fast walkers (default 2; ${MODEL_LIMITS.cpus.min}..${MODEL_LIMITS.cpus.max})`,
  },
  {
    name: "ptes",
    kind: "int",
    arg: "N",
    min: MODEL_LIMITS.ptes.min,
    max: MODEL_LIMITS.ptes.max,
    help: `pages in the region (default 3; ${MODEL_LIMITS.ptes.min}..${MODEL_LIMITS.ptes.max})`,
  },
  {
    name: "bystanders",
    kind: "int",
    arg: "N",
    min: MODEL_LIMITS.bystanders.min,
    max: MODEL_LIMITS.bystanders.max,
    help: `bystander CPUs after the walkers: never walk this mm, one IRQ-off section each, take IPIs with interrupts on (default 0; ${MODEL_LIMITS.bystanders.min}..${MODEL_LIMITS.bystanders.max})`,
  },
  {
    name: "no-memo",
    kind: "bool",
    help: "exhaustive: run every interleaving to its end (no pruning of revisited states; slow, for checking)",
  },
  {
    name: "replay",
    kind: "string",
    arg: "STRING",
    help: "run one interleaving again, step for step, from the replay string a counterexample printed",
  },
  {
    name: "agree",
    kind: "bool",
    help: "also run each counterexample on real threads with delays forced where it switches CPUs (2 CPUs)",
  },
  {
    name: "unit-ns",
    kind: "int",
    arg: "NS",
    min: 100,
    max: 1_000_000,
    help: "--agree: forced spin per step of the other CPU (default 3000)",
  },
  {
    name: "expect",
    kind: "enum",
    arg: "race|clean",
    values: ["race", "clean"],
    help: "exit 0 when the verdict matches (default: each fix's own expectation, see gupstress list)",
  },
  { name: "json", kind: "bool", help: "print one JSON object on stdout instead of text" },
  { ...OUT_FLAG, help: "append one JSON line per fix explored to FILE (for gupstress merge)" },
  { name: "help", kind: "bool", help: "this help" },
];

export function exploreHelp(): string {
  return [
    "usage: gupstress explore [flags]      (npm run explore -- [flags])",
    "",
    "Runs the scenario's mutator and GUP-fast on one thread, the same step code as the",
    "stress workers, and lets a scheduler choose which CPU takes the next step: every",
    "interleaving (exhaustive), or sampled ones (pct, random), for every page range each",
    "walk may cover. Each final state is graded by the scenario's oracle; the simplest",
    "counterexample is drawn with a replay string.",
    "",
    flagHelp(EXPLORE_FLAGS),
    "",
    "exit: 0 verdict as expected, 1 not as expected, 2 usage error",
  ].join("\n");
}

interface ExplorePlan {
  scenario: Scenario;
  runs: ExploreOptions[];
  expects: Expect[];
  replay: string | null;
  agree: boolean;
  unitNs: number;
  json: boolean;
  out: string | null;
  help: boolean;
  expectArg: "race" | "clean" | undefined;
}

function planExplore(argv: readonly string[]): ExplorePlan {
  const f = parseFlags(argv, EXPLORE_FLAGS);
  const strategy = (f.get("strategy") as Strategy | undefined) ?? DEFAULT_EXPLORE.strategy;
  if (strategy !== "exhaustive" && f.has("preemptions")) {
    throw new UsageError("--preemptions applies to --strategy exhaustive only");
  }
  if (strategy !== "pct" && f.has("depth"))
    throw new UsageError("--depth applies to --strategy pct only");
  if (strategy !== "exhaustive" && f.has("no-memo")) {
    throw new UsageError("--no-memo applies to --strategy exhaustive only");
  }
  if (strategy === "exhaustive" && (f.has("runs") || f.has("seed"))) {
    throw new UsageError("--runs and --seed apply to --strategy pct and random only");
  }
  const replay = (f.get("replay") as string | undefined) ?? null;
  if (replay !== null) {
    for (const other of [
      "out",
      "scenario",
      "fix",
      "strategy",
      "preemptions",
      "host-preemptions",
      "depth",
      "runs",
      "seed",
      "cpus",
      "ptes",
      "bystanders",
    ]) {
      if (f.has(other))
        throw new UsageError(`--replay carries its own configuration: drop --${other}`);
    }
    try {
      parseReplay(replay);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const fixArg = (f.get("fix") as string | undefined) ?? "all";
  const expectArg = f.get("expect") as "race" | "clean" | undefined;
  if (fixArg === "all" && expectArg !== undefined && replay === null) {
    throw new UsageError(
      "--expect needs a single --fix (with --fix all each fix has its own expectation)",
    );
  }
  const scenario = scenarioByName((f.get("scenario") as string | undefined) ?? DEFAULT_SCENARIO);
  if (fixArg !== "all") {
    try {
      resolveFix(scenario, fixArg);
    } catch (e) {
      throw new UsageError(`--fix: ${(e as Error).message}`);
    }
  }
  const names = fixArg === "all" ? scenario.fixes.map((d) => d.name) : [fixArg];
  const runs: ExploreOptions[] = [];
  const expects: Expect[] = [];
  for (const name of names) {
    const mutant = scenario.mutants.find((m) => m.id === name);
    runs.push({
      ...DEFAULT_EXPLORE,
      scenario: scenario.name,
      fix: mutant?.fix ?? name,
      strategy,
      cpus: (f.get("cpus") as number | undefined) ?? mutant?.cpus ?? DEFAULT_EXPLORE.cpus,
      ptes: (f.get("ptes") as number | undefined) ?? DEFAULT_EXPLORE.ptes,
      bystanders: (f.get("bystanders") as number | undefined) ?? 0,
      preemptions: (f.get("preemptions") as number | undefined) ?? null,
      depth: (f.get("depth") as number | undefined) ?? DEFAULT_EXPLORE.depth,
      runs: (f.get("runs") as number | undefined) ?? DEFAULT_EXPLORE.runs,
      seed: (f.get("seed") as number | undefined) ?? DEFAULT_EXPLORE.seed,
      noMemo: f.get("no-memo") === true,
      hostPreemptions: f.get("host-preemptions") as number | undefined,
    });
    expects.push(expectArg ?? expectationOf(scenario, name));
  }
  const doAgree = f.get("agree") === true;
  if (doAgree && runs.some((r) => r.cpus !== 2)) {
    throw new UsageError("--agree needs --cpus 2 (forced delays name steps, not CPUs)");
  }
  if (doAgree && runs.some((r) => (r.bystanders ?? 0) > 0)) {
    throw new UsageError("--agree runs without bystanders: drop --bystanders");
  }
  return {
    scenario,
    runs,
    expects,
    replay,
    agree: doAgree,
    unitNs: (f.get("unit-ns") as number | undefined) ?? 3000,
    json: f.get("json") === true,
    out: (f.get("out") as string | undefined) ?? null,
    help: f.get("help") === true,
    expectArg,
  };
}

const num = (n: number) => n.toLocaleString("en-US");

function boundText(r: ExploreReport): string {
  if (r.strategy === "exhaustive") {
    if (r.bound === null) return "no preemption bound";
    return `at most ${r.bound} preemption${r.bound === 1 ? "" : "s"}`;
  }
  const runs = `${num(r.explored)} runs, seed ${r.seed}`;
  return r.strategy === "pct" ? `depth ${r.bound}, ${runs}` : runs;
}

function formatReport(r: ExploreReport, scenario: Scenario, expect: Expect, ok: boolean): string {
  const lines: string[] = [];
  lines.push(`gupstress explore ${r.scenario}: fix ${r.fix} (${r.summary})`);
  lines.push(
    `  ${r.strategy}, ${boundText(r)}; ${r.cpus} CPUs (CPU 0 ${scenario.roles.mutator}, ${r.cpus - 1} ${scenario.roles.walker}${r.bystanders > 0 ? `, ${r.bystanders} bystander${r.bystanders === 1 ? "" : "s"}` : ""}), 1 region x ${r.ptes} ptes, ${r.rangeChoices} choices of the walks' page ranges`,
  );
  const rate =
    r.strategy === "exhaustive"
      ? `${num(r.states)} states run, ${num(r.statesPerSec)} states/s`
      : `${num(r.interleavingsPerSec)} interleavings/s`;
  lines.push(
    `  explored ${num(r.explored)} interleavings in ${(r.ms / 1000).toFixed(3)} s (${rate}): ${r.complete ? "complete" : "not complete"}`,
  );
  if (r.explored > Number.MAX_SAFE_INTEGER) lines.push("  (counts above 2^53 are rounded)");
  const pct = r.explored > 0 ? (r.violations / r.explored) * 100 : 0;
  const share = pct > 0 && pct < 0.1 ? "<0.1" : pct.toFixed(1);
  lines.push(
    `  violations: ${num(r.violations)} interleavings (${share}%) end in a FORBIDDEN outcome`,
  );
  lines.push("");
  lines.push(`  ${"outcome".padEnd(22)} ${"interleavings".padStart(14)}  grade`);
  for (const [key, o] of Object.entries(r.outcomes)) {
    if (o.count === 0 && o.grade !== "FORBIDDEN") continue;
    lines.push(`  ${key.padEnd(22)} ${num(o.count).padStart(14)}  ${o.grade}`);
  }
  const cex = r.counterexample;
  if (cex !== null) {
    lines.push("");
    lines.push(
      `  Counterexample: ${cex.outcome.join(" + ")}; ${cex.steps} steps, ${cex.preemptions} preemption${cex.preemptions === 1 ? "" : "s"} (the fewest that reach a violation)${cex.frame >= 0 ? `; page ${cex.index}, frame ${cex.frame}` : ""}`,
    );
    if (cex.detail !== "") lines.push(`  oracle: ${cex.detail}`);
    lines.push("");
    lines.push(
      `  walks: ${cex.ranges.map(([first, count], i) => `CPU ${i + 1} pages ${first}..${first + count - 1}`).join(", ")}`,
    );
    lines.push(
      drawInterleaving(cex.trace, scenario, { frame: cex.frame >= 0 ? cex.frame : undefined }),
    );
    lines.push("");
    lines.push(`  replay: gupstress explore --replay ${cex.replay}`);
  }
  lines.push(
    `  verdict: ${r.verdict === "race" ? "race found" : r.complete ? "no race in the whole bounded space" : "no race found (sampled: not a proof)"} (expected ${expect}): ${ok ? "as expected" : "NOT as expected"}`,
  );
  return lines.join("\n");
}

function formatAgreement(a: Agreement): string {
  const s = a.stress;
  return [
    `  on threads: ${a.delays.length} forced delays (${a.delays.map((d) => `${d.point}#${d.nth}=${d.maxNs / 1000}us${d.preempt === true ? " preempted" : ""}`).join(" ")}), ${num(s.iterations)} trials of ${s.regions} x ${s.ptes} ptes`,
    `    ${a.explorerOutcome.filter((k) => s.outcomes[k]?.grade === "FORBIDDEN").join(", ")} in ${(a.hitRate * 100).toFixed(1)}% of trials (${(a.baselineHitRate * 100).toFixed(1)}% with no delays): ${a.reproduced ? "reproduced" : "NOT reproduced"}`,
    `    outcomes stress saw: ${Object.entries(s.outcomes)
      .filter(([, o]) => o.count > 0)
      .map(([k]) => k)
      .join(", ")}; all reached by the explorer: ${a.labelsAgree ? "yes" : "NO"}`,
  ].join("\n");
}

function formatMatrix(rows: { r: ExploreReport; expect: string; ok: boolean }[]): string {
  const w = Math.max(10, ...rows.map((x) => x.r.fix.length));
  const head = `  ${"fix".padEnd(w)} ${"strategy".padEnd(11)} ${"bound".padEnd(6)} ${"explored".padStart(14)} ${"violations".padStart(14)}  complete  ${"states".padStart(7)} ${"seconds".padStart(8)}  verdict`;
  const lines = ["Summary", head];
  for (const { r, expect, ok } of rows) {
    lines.push(
      `  ${r.fix.padEnd(w)} ${r.strategy.padEnd(11)} ${String(r.bound ?? "none").padEnd(6)} ${num(r.explored).padStart(14)} ${num(r.violations).padStart(14)}  ${(r.complete ? "yes" : "no").padEnd(8)}  ${num(r.states).padStart(7)} ${(r.ms / 1000).toFixed(3).padStart(8)}  ${r.verdict} (expected ${expect}${ok ? "" : ": MISMATCH"})`,
    );
  }
  const ms = rows.reduce((t, x) => t + x.r.ms, 0);
  const states = rows.reduce((t, x) => t + x.r.states, 0);
  const explored = rows.reduce((t, x) => t + x.r.explored, 0);
  lines.push(
    `  total: ${num(explored)} interleavings, ${num(states)} distinct states in ${(ms / 1000).toFixed(3)} s (${num(Math.round((states / ms) * 1000))} states/s, ${num(Math.round((explored / ms) * 1000))} interleavings/s)`,
  );
  return lines.join("\n");
}

export async function exploreCommand(argv: readonly string[], io: Io): Promise<number> {
  let plan: ExplorePlan;
  try {
    plan = planExplore(argv);
  } catch (e) {
    return usageExit("explore", io.err, e);
  }
  if (plan.help) {
    io.out(`${exploreHelp()}\n`);
    return EXIT.ok;
  }
  if (plan.replay !== null) return replayCommand(plan, io);
  let sink: RecordSink | null = null;
  try {
    if (plan.out !== null) sink = RecordSink.open(plan.out);
  } catch (e) {
    return usageExit("explore", io.err, e);
  }
  const rows: {
    r: ExploreReport;
    expect: "race" | "clean";
    ok: boolean;
    agreement: Agreement | null;
  }[] = [];
  for (let i = 0; i < plan.runs.length; i++) {
    const progress = exploreProgress(plan.runs[i], io);
    const r = explore({ ...plan.runs[i], onProgress: progress.onProgress });
    progress.done();
    const expect = plan.expects[i];
    const ok = asExpected(r.outcomes, expect);
    let agreement: Agreement | null = null;
    if (plan.agree && r.counterexample !== null) {
      const labels = Object.entries(r.outcomes)
        .filter(([, o]) => o.count > 0)
        .map(([k]) => k);
      agreement = await agree(r.counterexample.replay, {
        unitNs: plan.unitNs,
        explorerLabels: labels,
      });
    }
    rows.push({ r, expect, ok, agreement });
    sink?.append(exploreRecord(r, ok ? "as expected" : "NOT as expected"));
    if (!plan.json) {
      io.out(`${formatReport(r, plan.scenario, expect, ok)}\n`);
      if (agreement !== null) io.out(`${formatAgreement(agreement)}\n`);
      io.out("\n");
    }
  }
  sink?.close();
  if (plan.json) {
    const one = (x: (typeof rows)[number]) => ({
      ...x.r,
      expect: x.expect,
      ok: x.ok,
      ...(x.agreement === null ? {} : { agreement: agreementJson(x.agreement) }),
    });
    const body =
      rows.length === 1
        ? one(rows[0])
        : { matrix: true, ok: rows.every((x) => x.ok), runs: rows.map(one) };
    io.out(`${JSON.stringify(body)}\n`);
  } else if (rows.length > 1) io.out(`${formatMatrix(rows)}\n`);
  const agreed = rows.every(
    (x) => x.agreement === null || (x.agreement.reproduced && x.agreement.labelsAgree),
  );
  return rows.every((x) => x.ok) && agreed ? EXIT.ok : EXIT.mismatch;
}

function agreementJson(a: Agreement) {
  return {
    replay: a.replay,
    explorerOutcome: a.explorerOutcome,
    delays: a.delays,
    unitNs: a.unitNs,
    iterations: a.stress.iterations,
    hitRate: a.hitRate,
    baselineHitRate: a.baselineHitRate,
    reproduced: a.reproduced,
    labelsAgree: a.labelsAgree,
    outcomes: Object.fromEntries(Object.entries(a.stress.outcomes).map(([k, o]) => [k, o.count])),
  };
}

function replayCommand(plan: ExplorePlan, io: Io): number {
  const text = plan.replay as string;
  let cex: ReturnType<typeof replayTrace>;
  try {
    cex = replayTrace(text);
  } catch (e) {
    if (e instanceof ReplayError) {
      io.err(`gupstress explore: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  const p = parseReplay(text);
  const scenario = scenarioByName(p.scenario);
  const counted = Object.fromEntries(
    scenario.outcomes.map((o) => [
      o.key,
      { ...o, count: cex.outcome.filter((k) => k === o.key).length },
    ]),
  );
  const verdict = verdictOf(counted);
  const ok = plan.expectArg === undefined || asExpected(counted, plan.expectArg);
  if (plan.json) {
    io.out(
      `${JSON.stringify({ scenario: p.scenario, fix: p.fix, cpus: p.cpus, ptes: p.ptes, ...cex, verdict, ok })}\n`,
    );
  } else {
    io.out(
      `gupstress explore --replay: ${p.scenario}, fix ${p.fix}, ${p.cpus} CPUs, ${p.ptes} ptes, ${cex.steps} steps${p.version === "v1" ? " (a v1 string: completed to the end, lowest CPU first)" : ""}\n`,
    );
    io.out(
      `  outcome: ${cex.outcome.join(" + ")}${cex.frame >= 0 ? `; page ${cex.index}, frame ${cex.frame}` : ""}\n`,
    );
    if (cex.detail !== "") io.out(`  oracle: ${cex.detail}\n`);
    io.out(
      `\n${drawInterleaving(cex.trace, scenario, { frame: cex.frame >= 0 ? cex.frame : undefined })}\n\n`,
    );
    io.out(
      `  verdict: ${verdict}${plan.expectArg === undefined ? "" : ` (expected ${plan.expectArg}): ${ok ? "as expected" : "NOT as expected"}`}\n`,
    );
  }
  return ok ? EXIT.ok : EXIT.mismatch;
}

// ---- gupstress mutants --------------------------------------------------------------------

export const MUTANT_FLAGS: FlagSpec[] = [
  {
    name: "scenario",
    kind: "enum",
    arg: "NAME",
    values: SCENARIO_NAMES,
    help: "only this scenario's mutants (default: every scenario's)",
  },
  {
    name: "only",
    kind: "enum",
    arg: "ID",
    values: MUTANT_IDS,
    repeat: true,
    help: `run only this mutant (repeatable): ${MUTANT_IDS.join(", ")}`,
  },
  {
    name: "ptes",
    kind: "int",
    arg: "N",
    min: MODEL_LIMITS.ptes.min,
    max: MODEL_LIMITS.ptes.max,
    help: "pages in the explorer's region (default 3)",
  },
  {
    name: "stress-seconds",
    kind: "number",
    arg: "S",
    min: 0,
    max: 3600,
    help: "seconds of stress per mutant, stopping at the first race (default 5; 0: no stress)",
  },
  {
    name: "seed",
    kind: "int",
    arg: "N",
    min: 0,
    max: 2 ** 31 - 1,
    help: "stress seed (default 1)",
  },
  { name: "json", kind: "bool", help: "print one JSON object on stdout instead of the table" },
  { name: "help", kind: "bool", help: "this help" },
];

export function mutantsHelp(): string {
  return [
    "usage: gupstress mutants [flags]      (npm run mutants -- [flags])",
    "",
    "Weakens each fix on purpose, one knob at a time, and checks that the explorer",
    "(exhaustive) and a short stress run catch it. Equivalent mutants (another",
    "protection of the same fix still closes the race) must come out clean.",
    "",
    flagHelp(MUTANT_FLAGS),
    "",
    "exit: 0 every mutant caught by the explorer (and every equivalent one clean), 1 otherwise, 2 usage error",
  ].join("\n");
}

// Column widths from every declared scenario and mutant, so that rows streamed one at a time line up.
const SCENARIO_W = Math.max(18, ...allMutants().map((m) => m.scenario.name.length));
const MUTANT_W = Math.max(24, ...MUTANT_IDS.map((id) => id.length));
const STRESS_W = 44;

function mutantHeader(stressSeconds: number): string {
  const stress =
    stressSeconds > 0
      ? `stress (${stressSeconds} s, ${"until the first race"})`
      : "stress (not run)";
  return [
    `  ${"scenario".padEnd(SCENARIO_W)} ${"mutant".padEnd(MUTANT_W)} ${"expected".padEnd(10)} ${"explorer".padEnd(44)} ${stress.padEnd(STRESS_W)} caught in`,
    `  ${"".padEnd(SCENARIO_W)} ${"".padEnd(MUTANT_W)} ${"".padEnd(10)} ${`caught  ${"interleavings".padStart(25)}  ${"time".padStart(7)}`.padEnd(44)} ${"caught  time to catch (mode)".padEnd(STRESS_W)} (the same weakening, by scenario)`,
  ].join("\n");
}

/** The "caught in" column: where the same weakening is caught, or "nowhere". */
export function caughtInText(row: MutantRow): string {
  const caught = row.caughtIn.filter((c) => c.caught);
  if (caught.length === 0) {
    const looked = row.caughtIn.map((c) => c.scenario);
    return looked.length === 0
      ? "nowhere (no other scenario has this fix)"
      : `nowhere (also clean in ${looked.join(", ")})`;
  }
  return caught
    .map((c) =>
      c.scenario === row.scenario
        ? "here"
        : `${c.scenario} (${c.mutant ?? c.fix}${c.how === "declared" ? ", declared" : ""})`,
    )
    .join(", ");
}

function mutantLine(row: MutantRow): string {
  const e = row.explorer;
  const s = row.stress;
  const yes = (b: boolean) => (b ? "yes" : "no");
  const explorer = `${yes(e.caught).padEnd(6)}  ${num(e.explored).padStart(25)}  ${`${e.ms.toFixed(0)} ms`.padStart(7)}`;
  const stress =
    s === null
      ? "-"
      : `${yes(s.caught).padEnd(6)}  ${s.caught ? `${s.ms < 1000 ? `${s.ms.toFixed(1)} ms` : `${(s.ms / 1000).toFixed(2)} s`} (${num(s.iterations)} iterations, ${s.mode})` : `missed in ${(s.ms / 1000).toFixed(1)} s (${num(s.iterations)} iterations, ${s.mode})`}`;
  const flag = row.ok ? "" : "  <- explorer verdict NOT as expected";
  return `  ${row.scenario.padEnd(SCENARIO_W)} ${row.id.padEnd(MUTANT_W)} ${row.expected.padEnd(10)} ${explorer.padEnd(44)} ${stress.padEnd(STRESS_W)} ${caughtInText(row)}${flag}`;
}

export async function mutantsCommand(argv: readonly string[], io: Io): Promise<number> {
  let f: Map<string, unknown>;
  try {
    f = parseFlags(argv, MUTANT_FLAGS);
  } catch (e) {
    return usageExit("mutants", io.err, e);
  }
  if (f.get("help") === true) {
    io.out(`${mutantsHelp()}\n`);
    return EXIT.ok;
  }
  const stressSeconds = (f.get("stress-seconds") as number | undefined) ?? 5;
  const json = f.get("json") === true;
  const only = f.get("scenario") as string | undefined;
  const total = allMutants().filter((m) => only === undefined || m.scenario.name === only).length;
  if (!json) {
    io.out(
      `gupstress mutants: ${total} weakened fixes, explorer exhaustive over 2 CPUs x ${(f.get("ptes") as number | undefined) ?? 3} ptes (3 CPUs where marked) and every choice of the walks' page ranges\n\n`,
    );
    io.out(`${mutantHeader(stressSeconds)}\n`);
  }
  let rows: MutantRow[];
  try {
    rows = await runMutants({
      scenario: only,
      ptes: (f.get("ptes") as number | undefined) ?? DEFAULT_EXPLORE.ptes,
      stressSeconds,
      seed: (f.get("seed") as number | undefined) ?? 1,
      only: f.get("only") as string[] | undefined,
      onRow: json ? undefined : (row) => io.out(`${mutantLine(row)}\n`),
      signal: io.signal,
    });
  } catch (e) {
    return faultExit("mutants", io.err, e);
  }
  const interrupted = io.signal?.aborted ? String(io.signal.reason ?? "SIGINT") : null;
  const killable = rows.filter((r) => r.expected === "caught");
  const byExplorer = killable.filter((r) => r.explorer.caught).length;
  const stressRun = killable.filter((r) => r.stress !== null);
  const byStress = stressRun.filter((r) => r.stress?.caught).length;
  const missed = stressRun.filter((r) => !r.stress?.caught).map((r) => r.id);
  const ok = rows.every((r) => r.ok) && interrupted === null;
  if (json) {
    io.out(
      `${JSON.stringify({ ok, interrupted, stressSeconds, caughtByExplorer: byExplorer, caughtByStress: stressRun.length > 0 ? byStress : null, killable: killable.length, equivalent: rows.length - killable.length, missedByStress: missed, mutants: rows })}\n`,
    );
  } else {
    io.out("\n");
    // An equivalent mutant: the scenario that catches the same weakening, or why none can.
    for (const r of rows.filter((x) => x.expected === "equivalent")) {
      const where = r.caughtIn.filter((c) => c.caught);
      io.out(
        `  ${r.scenario} ${r.id}: ${r.text}${where.length > 0 ? `\n    caught in ${where.map((c) => `${c.scenario} by ${c.fix}${c.replay ? ` (replay: gupstress explore --replay ${c.replay})` : ""}`).join("; ")}` : "\n    caught in no scenario of the family"}\n`,
      );
    }
    io.out(
      `\n  mutation score: explorer ${byExplorer}/${killable.length}${stressRun.length > 0 ? `, stress ${byStress}/${stressRun.length} (${Math.round((byStress / stressRun.length) * 100)}%)${missed.length > 0 ? `; missed by stress: ${missed.join(", ")}` : ""}` : ""}; equivalent mutants clean: ${rows.filter((r) => r.expected === "equivalent" && r.ok).length}/${rows.length - killable.length}\n`,
    );
    io.out(
      `  verdict: ${ok ? "every mutant caught by the explorer" : "NOT every mutant as expected"}\n`,
    );
    if (interrupted !== null)
      io.out(`  interrupted by ${interrupted}: ${rows.length} of ${total} mutants run\n`);
  }
  if (interrupted !== null) return interrupted === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
  return ok ? EXIT.ok : EXIT.mismatch;
}
