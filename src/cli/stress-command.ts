// gupstress stress: flags -> RunConfig -> runStress -> summary or JSON -> exit code.

import { MAX_PMD_ID } from "../memory/layout.js";
import { formatMatrix, formatSummary } from "../report/text.js";
import {
  BYSTANDER_OFF_NS,
  type DelaySpec,
  defaultConfig,
  LIMITS,
  type RunConfig,
  withMutantStress,
} from "../run/config.js";
import { DELAY_POINTS, isDelayPoint, LEVELS } from "../run/delay.js";
import { parseFault } from "../run/faults.js";
import { geometryFor, type Progress, runStress, type StressResult } from "../run/stress.js";
import { asExpected, type Expect, type Judgement, judge } from "../run/verdict.js";
import {
  DEFAULT_SCENARIO,
  expectationOf,
  fixParts,
  resolveFix,
  SCENARIO_NAMES,
  scenarioByName,
} from "../scenarios/index.js";
import { EXIT, type FlagSpec, flagHelp, parseFlags, UsageError, usageExit } from "./args.js";
import { OUT_FLAG, RecordSink, stressRecord } from "./record.js";

export { EXIT };

const defaultScenario = scenarioByName(DEFAULT_SCENARIO);

export const STRESS_FLAGS: FlagSpec[] = [
  {
    name: "scenario",
    kind: "enum",
    arg: "NAME",
    values: SCENARIO_NAMES,
    help: `the race scenario: ${SCENARIO_NAMES.join(", ")} (default ${DEFAULT_SCENARIO}; gupstress list shows each)`,
  },
  {
    name: "fix",
    kind: "string",
    arg: "NAME",
    help: `fix variant (${DEFAULT_SCENARIO}: ${defaultScenario.fixes.map((f) => f.name).join(", ")}), all (default: every one, each until its verdict), a mutant id, or a weakened fix BASE~KNOB=VALUE`,
  },
  {
    name: "mode",
    kind: "enum",
    arg: "MODE",
    values: ["lockstep", "freerun"],
    help: "lockstep (default: finds races) or freerun (CPUs loop like real CPUs)",
  },
  {
    name: "cpus",
    kind: "int",
    arg: "N",
    min: LIMITS.cpus.min,
    max: LIMITS.cpus.max,
    help: `CPUs: 1 collapse + N-1 GUP-fast (default: os.availableParallelism(), at least 2; ${LIMITS.cpus.min}..${LIMITS.cpus.max})`,
  },
  {
    name: "bystanders",
    kind: "int",
    arg: "N",
    min: LIMITS.bystanders.min,
    max: LIMITS.bystanders.max,
    help: `bystander CPUs after the walkers: never walk this mm, loop over ${BYSTANDER_OFF_NS / 1000} us stretches with interrupts off; an IPI to all online CPUs waits for them, one to mm_cpumask does not (default 0; ${LIMITS.bystanders.min}..${LIMITS.bystanders.max})`,
  },
  {
    name: "time",
    kind: "number",
    arg: "SECONDS",
    min: 0.01,
    max: LIMITS.timeS.max,
    help: "run this long (default 10, or 5 per fix with --fix all, where a racy fix stops at its first race, or runs on up to 20 s until it has one, and a clean fix with too few window hits runs on, up to 20 s, until it has them or a race)",
  },
  {
    name: "iterations",
    kind: "int",
    arg: "N",
    min: 1,
    max: 1e12,
    help: "stop after at least N iterations. lockstep: region trials, rounded up to a whole round (a multiple of --regions: --iterations 1 runs 16); freerun: GUP-fast calls, counted every 10 ms, so it runs past N (hundreds of calls or more)",
  },
  {
    name: "seed",
    kind: "int",
    arg: "N",
    min: 0,
    max: 2 ** 31 - 1,
    help: "seed for delays and addresses (default: random, printed)",
  },
  {
    name: "regions",
    kind: "int",
    arg: "N",
    min: LIMITS.regions.min,
    max: LIMITS.regions.max,
    help: "regions (PMD slots): lockstep trials per round, freerun address space (default 16)",
  },
  {
    name: "ptes",
    kind: "int",
    arg: "N",
    min: LIMITS.ptes.min,
    max: LIMITS.ptes.max,
    help: "pages per region (default 8)",
  },
  {
    name: "delay",
    kind: "string",
    arg: "POINT=NS[@P]",
    repeat: true,
    help: `add a random spin of up to NS ns after step POINT, with probability P (default 1); POINT: start or a step name (G1, G3, K6, K8, ...). Defaults (${DEFAULT_SCENARIO}): ${defaultScenario.defaultDelays.map((d) => `${d.point}=${d.maxNs}@${d.prob}`).join(" ")}`,
  },
  { name: "no-delays", kind: "bool", help: "drop the default delay points (--delay still adds)" },
  {
    name: "preempt",
    kind: "string",
    arg: "POINT=NS[@P]",
    repeat: true,
    help: `the host deschedules a vCPU after step POINT for up to NS ns, with probability P (default 1): its steal-time preempted word is set meanwhile, as KVM's PV TLB flush reads it (kvm-pv-flush). Replaces a default preemption at POINT. Defaults (${DEFAULT_SCENARIO}): ${
      defaultScenario.defaultDelays
        .filter((d) => d.preempt === true)
        .map((d) => `${d.point}=${d.maxNs}@${d.prob}`)
        .join(" ") || "none"
    }`,
  },
  {
    name: "no-preempt",
    kind: "bool",
    help: "drop the default host-preemption points (--preempt still adds)",
  },
  {
    name: "no-adapt",
    kind: "bool",
    help: "keep the walkers' delays as given; by default the default delays adapt: the walkers' are scaled (x1/8 to x8) to the scale with the best window hit rate, measured at the start and again when the rate falls, and slept instead of spun when spinning never reaches the window (--delay or --no-delays also keeps them as given)",
  },
  {
    name: "hold",
    kind: "int",
    arg: "N",
    min: LIMITS.holdPins.min,
    max: LIMITS.holdPins.max,
    help: "freerun: walks whose pins each GUP CPU holds before releasing the oldest (default 4)",
  },
  {
    name: "stall-ms",
    kind: "int",
    arg: "MS",
    min: LIMITS.stallMs.min,
    max: LIMITS.stallMs.max,
    help: "report a CPU as stuck after this long without an answer (default 2000)",
  },
  { name: "until-race", kind: "bool", help: "stop at the first race" },
  {
    name: "control",
    kind: "bool",
    help: "also run the scenario's racy baseline under the same flags first: a clean fix counts as clean only if the control raced (always so with --fix all)",
  },
  {
    name: "min-window",
    kind: "int",
    arg: "N",
    min: 0,
    max: 1e9,
    help: "window hits (outcomes that show the race window was reached) a 'no race' verdict needs (default 10)",
  },
  {
    name: "no-barrier",
    kind: "bool",
    help: "lockstep: CPU 0 starts each trial without waiting for the GUP CPUs to reach it; a CPU that falls behind then walks regions whose operation is over. By default every trial starts on a barrier; it stays when CPUs outnumber cores",
  },
  {
    name: "eager-jit",
    kind: "bool",
    help: "keep V8's default tier-up: TurboFan compiles the CPUs' code within milliseconds, on threads that take cores from the CPUs in the run's first second; by default a run delays optimisation about 20 times (src/run/jit.ts), so that compiles do not stall the first trials",
  },
  {
    name: "no-trace",
    kind: "bool",
    help: "do not stamp steps with the global clock (faster; no interleaving drawn)",
  },
  {
    name: "expect",
    kind: "enum",
    arg: "race|clean",
    values: ["race", "clean"],
    help: "exit 0 when the result matches (default: the fix's own expectation, see gupstress list)",
  },
  { name: "json", kind: "bool", help: "print one JSON object on stdout instead of the summary" },
  OUT_FLAG,
  { name: "quiet", kind: "bool", help: "no progress on stderr" },
  { name: "help", kind: "bool", help: "this help" },
];

/** Test-only flags: parsed, never shown. */
const HIDDEN_FLAGS: FlagSpec[] = [
  { name: "fault", kind: "string", arg: "SPEC", help: "test-only fault injection" },
];

export function stressHelp(): string {
  return [
    "usage: gupstress stress [flags]      (npm run stress -- [flags])",
    "",
    "Runs CPU 0 as the scenario's mutator (gup-vs-collapse: khugepaged's collapse and the",
    "THP split after it) and the other CPUs as GUP-fast on a shared page table, grades every",
    "outcome, and reports the race if the oracle sees it in memory.",
    "",
    flagHelp(STRESS_FLAGS),
    "",
    "exit: 0 result as expected, 1 not as expected, 2 usage error, 3 harness fault,",
    "      4 inconclusive (no race, but the race window was not shown reached), 130/143 interrupted",
  ].join("\n");
}

export interface StressPlan {
  configs: RunConfig[];
  expects: Expect[];
  /** index of the run whose races are the control for the clean ones, or -1 */
  control: number;
  minWindowHits: number;
  json: boolean;
  /** --out FILE.jsonl: one campaign record per run */
  out: string | null;
  quiet: boolean;
  help: boolean;
}

function parseDelay(text: string, flag = "delay"): DelaySpec {
  const m = /^([A-Za-z0-9]+)=(\d+(?:\.\d+)?)(?:@(\d*\.?\d+))?$/.exec(text);
  if (!m)
    throw new UsageError(`--${flag} '${text}': expected POINT=NS or POINT=NS@P, e.g. G1=2000@0.5`);
  if (!isDelayPoint(m[1])) {
    throw new UsageError(
      `--${flag} '${text}': unknown point ${m[1]} (accepted: ${DELAY_POINTS.join(", ")})`,
    );
  }
  const maxNs = Number(m[2]);
  if (maxNs > LIMITS.delayNs.max) {
    throw new UsageError(
      `--${flag} '${text}': ${maxNs} ns is out of range (accepted: 0 to ${LIMITS.delayNs.max})`,
    );
  }
  const prob = m[3] === undefined ? 1 : Number(m[3]);
  if (!(prob > 0 && prob <= 1)) {
    throw new UsageError(
      `--${flag} '${text}': probability ${m[3]} is out of range (accepted: above 0, up to 1)`,
    );
  }
  return flag === "preempt"
    ? { point: m[1], maxNs, prob, preempt: true }
    : { point: m[1], maxNs, prob };
}

/** Turn argv into the runs to do. Throws UsageError for any mistake. */
export function planStress(argv: readonly string[]): StressPlan {
  const f = parseFlags(argv, [...STRESS_FLAGS, ...HIDDEN_FLAGS]);
  const help = f.get("help") === true;
  const defaults = defaultConfig((f.get("scenario") as string | undefined) ?? DEFAULT_SCENARIO);
  const scenario = scenarioByName(defaults.scenario);
  const fixArg = (f.get("fix") as string | undefined) ?? "all";
  const all = fixArg === "all";
  // A mutant id brings the stress run that catches it (its mode, regions,
  // pins held, extra delay points); the flags given still win.
  const mutant = scenario.mutants.find((m) => m.id === fixArg);
  const base = mutant === undefined ? defaults : withMutantStress(defaults, mutant);
  const set = <K extends keyof RunConfig>(k: K, flag: string) => {
    if (f.has(flag)) base[k] = f.get(flag) as RunConfig[K];
  };
  set("mode", "mode");
  set("cpus", "cpus");
  set("bystanders", "bystanders");
  set("iterations", "iterations");
  set("regions", "regions");
  set("ptes", "ptes");
  set("stallMs", "stall-ms");
  set("holdPins", "hold");
  base.seed = (f.get("seed") as number | undefined) ?? Math.floor(Math.random() * 2 ** 31);
  base.untilRace = f.get("until-race") === true;
  base.trace = f.get("no-trace") !== true;
  if (f.get("eager-jit") === true) base.eagerJit = true;
  if (f.get("no-barrier") === true) base.trialBarrier = false;
  const time = f.get("time") as number | undefined;
  base.timeMs =
    time !== undefined ? time * 1000 : base.iterations !== null ? null : all ? 5000 : 10_000;
  const delays = ((f.get("delay") as string[] | undefined) ?? []).map((t) => parseDelay(t));
  const preempts = ((f.get("preempt") as string[] | undefined) ?? []).map((t) =>
    parseDelay(t, "preempt"),
  );
  // Spins and host preemptions are replaced separately: --delay G3=... keeps
  // a preemption at G3, --preempt G3=... keeps the spins there.
  const isPreempt = (d: DelaySpec) => d.preempt === true;
  const spins = base.delays.filter((d) => !isPreempt(d));
  const hostOut = base.delays.filter(isPreempt);
  base.delays = [
    ...(f.get("no-delays") === true ? delays : mergeDelays(spins, delays)),
    ...(f.get("no-delays") === true || f.get("no-preempt") === true
      ? preempts
      : mergeDelays(hostOut, preempts)),
  ];
  // Delays the user chose are kept exactly; only the scenario's defaults adapt.
  base.adapt =
    base.adapt &&
    f.get("no-adapt") !== true &&
    f.get("no-delays") !== true &&
    delays.length === 0 &&
    preempts.length === 0;
  checkDelayLevels(base.delays);
  checkDelaySum(base.delays, base.ptes, base.stallMs);
  if (f.has("hold") && base.mode !== "freerun")
    throw new UsageError("--hold applies to --mode freerun only");
  const fault = f.get("fault") as string | undefined;
  if (fault !== undefined) {
    const p = parseFault(fault);
    if (typeof p === "string") throw new UsageError(p);
    if (p.cpu >= base.cpus)
      throw new UsageError(`--fault ${fault}: CPU ${p.cpu} does not exist (0..${base.cpus - 1})`);
    base.fault = fault;
  }
  const expectArg = f.get("expect") as "race" | "clean" | undefined;
  if (all && expectArg !== undefined) {
    throw new UsageError(
      "--expect needs a single --fix (with --fix all each fix has its own expectation)",
    );
  }
  if (!all) {
    try {
      resolveFix(scenario, fixArg);
    } catch (e) {
      throw new UsageError(`--fix: ${(e as Error).message}`);
    }
  }
  const baseline = fixParts(scenario).baseline;
  const wantControl = all || f.get("control") === true;
  const single = scenario.mutants.find((m) => m.id === fixArg)?.fix ?? fixArg;
  const fixes = all
    ? scenario.fixes.map((d) => d.name)
    : wantControl && single !== baseline
      ? [baseline, single]
      : [single];
  const frames = geometryFor(base).frames;
  if (frames > MAX_PMD_ID) throw new UsageError(geometryText(base, frames));
  const minWindowHits = (f.get("min-window") as number | undefined) ?? 10;
  const configs = fixes.map((fix) => ({
    ...base,
    fix,
    // In a matrix a racy fix has shown what it must show at its first race:
    // it stops there (its time is the cap), and the clean fixes get the time.
    untilRace: base.untilRace || (fixes.length > 1 && expectationOf(scenario, fix) === "race"),
    // On a loaded machine a fix may not reach the window in its default
    // slice: in a matrix run with the default time it runs on, up to 4 times
    // the slice, until it raced or (a clean fix) shows the window reached.
    // A racy fix's evidence is its race: it runs on until it has one.
    evidence:
      fixes.length > 1 && time === undefined && base.timeMs !== null
        ? {
            minWindowHits:
              expectationOf(scenario, fix) === "race" ? Number.MAX_SAFE_INTEGER : minWindowHits,
            capMs: 4 * base.timeMs,
          }
        : undefined,
    delays: base.delays.map((d) => ({ ...d })),
  }));
  const expects: Expect[] = fixes.map((fix) =>
    all || fix !== single
      ? expectationOf(scenario, fix)
      : (expectArg ?? expectationOf(scenario, fixArg)),
  );
  return {
    configs,
    expects,
    control: wantControl ? fixes.indexOf(baseline) : -1,
    minWindowHits,
    json: f.get("json") === true,
    out: (f.get("out") as string | undefined) ?? null,
    quiet: f.get("quiet") === true,
    help,
  };
}

/** Each worker refuses more than LEVELS delays (or preemptions) at one point: say so here, as a usage error. */
function checkDelayLevels(delays: readonly DelaySpec[]): void {
  for (const preempt of [false, true]) {
    const perPoint = new Map<string, number>();
    for (const d of delays)
      if ((d.preempt === true) === preempt) perPoint.set(d.point, (perPoint.get(d.point) ?? 0) + 1);
    for (const [point, n] of perPoint) {
      if (n > LEVELS) {
        throw new UsageError(
          preempt
            ? `--preempt: ${n} preemptions at ${point}, at most ${LEVELS} per point (a --preempt for a point replaces its defaults)`
            : `--delay: ${n} delays at ${point}, at most ${LEVELS} per point (a --delay for a point replaces its defaults)`,
        );
      }
    }
  }
}

/**
 * Delays that add up past the stall bound: one walk (or one mutator
 * operation) runs each step point up to once per page, every level of a
 * point may fire, and a CPU with interrupts off for longer than --stall-ms is
 * reported stuck. Such a configuration is refused up front, naming the points
 * that add most (the per-trial "start" offset runs with interrupts on).
 */
function checkDelaySum(delays: readonly DelaySpec[], ptes: number, stallMs: number): void {
  const perPoint = new Map<string, number>();
  for (const d of delays) {
    if (d.point === "start") continue;
    perPoint.set(
      d.point,
      (perPoint.get(d.point) ?? 0) + d.maxNs * (d.nth === undefined ? ptes : 1),
    );
  }
  const totalNs = [...perPoint.values()].reduce((a, b) => a + b, 0);
  if (totalNs / 1e6 <= stallMs) return;
  const top = [...perPoint.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([point, ns]) => `${point} ${(ns / 1e6).toFixed(1)} ms`)
    .join(", ");
  throw new UsageError(
    `--delay: the delay points add up to ${(totalNs / 1e6).toFixed(0)} ms in one operation at worst (${top}; each point up to once per page, --ptes ${ptes}), more than --stall-ms ${stallMs}: a CPU would be reported stuck; lower the delays or raise --stall-ms`,
  );
}

/** Why a geometry is too big, naming every flag that adds frames (stress.ts geometryFor). */
function geometryText(c: RunConfig, frames: number): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const freerun = c.mode === "freerun";
  // The scenario sizes its frame pool (Scenario.frames): every flag below counts.
  const flags = `--regions ${c.regions}, --ptes ${c.ptes}, --cpus ${c.cpus}${freerun ? `, --hold ${c.holdPins}` : ""}`;
  const advice = `use fewer regions, ptes or cpus${freerun ? ", or a smaller --hold" : ""}`;
  return `this geometry needs ${n(frames)} frames, more than a pmd can name (${n(MAX_PMD_ID)}) (${flags}): ${advice}`;
}

/** A --delay for a point replaces that point's default. */
function mergeDelays(defaults: DelaySpec[], given: DelaySpec[]): DelaySpec[] {
  const points = new Set(given.map((d) => d.point));
  return [...defaults.filter((d) => !points.has(d.point)), ...given];
}

export function matches(r: StressResult, expect: Expect): boolean {
  return asExpected(r.outcomes, expect);
}

function progressLine(fix: string, p: Progress): string {
  const rate = p.elapsedMs > 0 ? Math.round((p.iterations / p.elapsedMs) * 1000) : 0;
  return `[${fix}] ${(p.elapsedMs / 1000).toFixed(1)} s  ${p.iterations.toLocaleString("en-US")} iterations (${rate.toLocaleString("en-US")}/s)  races ${p.races.toLocaleString("en-US")}`;
}

/** Run the command; returns the exit code. Output goes through the given writers. */
export async function stressCommand(
  argv: readonly string[],
  io: { out: (s: string) => void; err: (s: string) => void; isTTY: boolean; signal?: AbortSignal },
): Promise<number> {
  let plan: StressPlan;
  try {
    plan = planStress(argv);
  } catch (e) {
    return usageExit("stress", io.err, e);
  }
  if (plan.help) {
    io.out(`${stressHelp()}\n`);
    return EXIT.ok;
  }
  let sink: RecordSink | null = null;
  try {
    if (plan.out !== null) sink = RecordSink.open(plan.out);
  } catch (e) {
    return usageExit("stress", io.err, e);
  }
  try {
    return await runPlan(plan, io, sink);
  } finally {
    sink?.close();
  }
}

async function runPlan(
  plan: StressPlan,
  io: { out: (s: string) => void; err: (s: string) => void; isTTY: boolean; signal?: AbortSignal },
  sink: RecordSink | null,
): Promise<number> {
  const rows: {
    result: StressResult;
    expect: "race" | "clean";
    ok: boolean;
    judgement: Judgement | "interrupted";
    why: string;
  }[] = [];
  for (let i = 0; i < plan.configs.length; i++) {
    const config = plan.configs[i];
    let lastPlain = 0;
    const onProgress = plan.quiet
      ? undefined
      : (p: Progress) => {
          if (io.isTTY) io.err(`\r${progressLine(config.fix, p)}\x1b[K`);
          else if (p.elapsedMs - lastPlain >= 5000) {
            lastPlain = p.elapsedMs;
            io.err(`${progressLine(config.fix, p)}\n`);
          }
        };
    const result = await runStress(config, { onProgress, signal: io.signal });
    if (!plan.quiet && io.isTTY) io.err("\r\x1b[K");
    // A run cut short by Ctrl-C has no verdict: never "as expected".
    const controlRun = plan.control >= 0 && plan.control < i ? rows[plan.control] : undefined;
    const evidence = {
      windowHits: result.windowHits,
      minWindowHits: plan.minWindowHits,
      control: controlRun ? { fix: controlRun.result.fix, races: controlRun.result.races } : null,
    };
    const j = judge(result.outcomes, plan.expects[i], evidence);
    const judgement = result.interrupted !== null ? "interrupted" : j.judgement;
    const ok = judgement === "as expected";
    rows.push({ result, expect: plan.expects[i], ok, judgement, why: j.why });
    sink?.append(
      stressRecord(
        "stress",
        result,
        config,
        result.aborted !== null ? "fault" : judgement,
        plan.minWindowHits,
      ),
    );
    if (!plan.json) {
      io.out(`${formatSummary(result)}\n`);
      io.out(
        result.interrupted !== null
          ? `  verdict: interrupted by ${result.interrupted} (expected ${plan.expects[i]}): no verdict\n\n`
          : `  verdict: ${result.races > 0 ? "race found" : "no race"} (expected ${plan.expects[i]}; window reached ${result.windowHits.toLocaleString("en-US")} times${evidence.control ? `; control ${evidence.control.fix}: ${evidence.control.races.toLocaleString("en-US")} races` : ""}): ${judgement}${j.why === "" ? "" : ` (${j.why})`}\n\n`,
      );
    }
    if (result.aborted || result.interrupted) break;
  }
  // The fixes a Ctrl-C (or a harness fault) left out.
  const notRun = plan.configs
    .slice(rows.length)
    .map((c, k) => ({ fix: c.fix, expect: plan.expects[rows.length + k] }));
  if (plan.json) {
    // Latency samples are for the benchmarks, not for this object.
    const entry = ({
      result: { samples: _, ...r },
      expect,
      ok,
      judgement,
      why,
    }: (typeof rows)[number]) => ({
      ...r,
      expect,
      ok,
      verdict: judgement === "inconclusive" ? "inconclusive" : r.races > 0 ? "race" : "clean",
      judgement,
      why,
      minWindowHits: plan.minWindowHits,
    });
    const single = rows.length === 1 && plan.configs.length === 1;
    const out = single
      ? entry(rows[0])
      : {
          matrix: true,
          ok: rows.every((r) => r.ok) && notRun.length === 0,
          interrupted: rows.find((r) => r.result.interrupted !== null)?.result.interrupted ?? null,
          runs: rows.map(entry),
          notRun: notRun.map((r) => r.fix),
        };
    io.out(`${JSON.stringify(out)}\n`);
  } else if (plan.configs.length > 1) {
    const verdicts = rows.map((r) => ({ ...r, verdict: r.judgement }));
    const skipped = notRun.map(
      (r) => `  ${r.fix.padEnd(10)} ${r.expect.padEnd(6)}${"".padStart(12)}  not run`,
    );
    io.out(`${[formatMatrix(verdicts), ...skipped].join("\n")}\n`);
  }
  const last = rows[rows.length - 1]?.result;
  if (last?.interrupted) return last.interrupted === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
  if (rows.some((r) => r.result.aborted)) return EXIT.fault;
  if (rows.length !== plan.configs.length) return EXIT.mismatch;
  if (rows.some((r) => r.judgement === "NOT as expected")) return EXIT.mismatch;
  // The verdict line (or the JSON's "why") already says what to change.
  if (rows.some((r) => r.judgement === "inconclusive")) return EXIT.inconclusive;
  return EXIT.ok;
}
