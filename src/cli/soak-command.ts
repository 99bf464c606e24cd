// gupstress soak: hours of the clean fixes in both modes, rotating, with totals.
// Any race or FORBIDDEN outcome fails it; so does any harness fault.

import { defaultConfig, LIMITS, type Mode } from "../run/config.js";
import { runStress, type StressResult } from "../run/stress.js";
import { forbiddenIn, judge } from "../run/verdict.js";
import { DEFAULT_SCENARIO, SCENARIO_NAMES, scenarioByName } from "../scenarios/index.js";
import { EXIT, type FlagSpec, flagHelp, parseFlags, usageExit } from "./args.js";
import type { Io } from "./io.js";
import { OUT_FLAG, RecordSink, stressRecord } from "./record.js";
import { matches } from "./stress-command.js";

const FLAGS: FlagSpec[] = [
  {
    name: "scenario",
    kind: "enum",
    arg: "NAME",
    values: SCENARIO_NAMES,
    help: `the race scenario (default ${DEFAULT_SCENARIO})`,
  },
  {
    name: "minutes",
    kind: "number",
    arg: "N",
    min: 0.05,
    max: 7 * 24 * 60,
    help: "total time (default 10)",
  },
  {
    name: "slot",
    kind: "number",
    arg: "SECONDS",
    min: 1,
    max: 3600,
    help: "time per fix and mode before rotating (default 30, shorter when the run is too short for every fix and mode to get one)",
  },
  {
    name: "cpus",
    kind: "int",
    arg: "N",
    min: LIMITS.cpus.min,
    max: LIMITS.cpus.max,
    help: "CPUs (default: os.availableParallelism(), at least 2)",
  },
  {
    name: "seed",
    kind: "int",
    arg: "N",
    min: 0,
    max: 2 ** 31 - 1,
    help: "first seed; each slot adds 1 (default: random)",
  },
  { name: "json", kind: "bool", help: "print one JSON object with the totals" },
  { ...OUT_FLAG, help: "append one JSON line per finished slice to FILE (for gupstress merge)" },
  { name: "help", kind: "bool", help: "this help" },
];

/** The window hits a merged group of slices needs for a "no race" verdict (as stress's default). */
const SLICE_MIN_WINDOW = 10;

interface Total {
  fix: string;
  mode: Mode;
  runs: number;
  seconds: number;
  iterations: number;
  gupCalls: number;
  mutatorOps: number;
  races: number;
  forbidden: number;
}

export async function soakCommand(argv: readonly string[], io: Io): Promise<number> {
  let f: Map<string, unknown>;
  try {
    f = parseFlags(argv, FLAGS);
  } catch (e) {
    return usageExit("soak", io.err, e);
  }
  if (f.get("help") === true) {
    io.out(
      `usage: gupstress soak [flags]   (npm run soak -- [flags])\n\nRotates through the scenario's clean fixes in lockstep and freerun until the time is up;\nevery fix in every mode gets a slice, however short the run.\n\n${flagHelp(FLAGS)}\n\nexit: 0 no race and nothing FORBIDDEN, 1 a race or a FORBIDDEN outcome, 2 usage error,\n      3 harness fault, 130/143 interrupted\n`,
    );
    return EXIT.ok;
  }
  const scenario = scenarioByName((f.get("scenario") as string | undefined) ?? DEFAULT_SCENARIO);
  const base = defaultConfig(scenario.name);
  const cleanFixes = scenario.fixes.filter((d) => d.expect === "clean").map((d) => d.name);
  const totalMs = ((f.get("minutes") as number | undefined) ?? 10) * 60_000;
  const slotArgMs = ((f.get("slot") as number | undefined) ?? 30) * 1000;
  const cpus = (f.get("cpus") as number | undefined) ?? base.cpus;
  let seed = (f.get("seed") as number | undefined) ?? Math.floor(Math.random() * 2 ** 30);
  const json = f.get("json") === true;
  let sink: RecordSink | null = null;
  try {
    const out = f.get("out") as string | undefined;
    if (out !== undefined) sink = RecordSink.open(out);
  } catch (e) {
    return usageExit("soak", io.err, e);
  }
  const plan: { fix: string; mode: Mode }[] = [];
  for (const mode of ["lockstep", "freerun"] as const)
    for (const fix of cleanFixes) plan.push({ fix, mode });
  // Every fix and mode gets at least one slice in a run of any length.
  const slotMs = Math.max(500, Math.min(slotArgMs, totalMs / plan.length));
  const totals = plan.map(
    (p): Total => ({
      ...p,
      runs: 0,
      seconds: 0,
      iterations: 0,
      gupCalls: 0,
      mutatorOps: 0,
      races: 0,
      forbidden: 0,
    }),
  );
  const started = Date.now();
  let aborted: string | null = null;
  let interrupted: string | null = null;
  const failures: StressResult[] = [];
  for (let k = 0; Date.now() - started < totalMs; k = (k + 1) % plan.length) {
    const left = totalMs - (Date.now() - started);
    const timeMs = Math.max(500, Math.min(slotMs, left));
    const config = { ...base, ...plan[k], cpus, seed: seed++, timeMs };
    const r = await runStress(config, { signal: io.signal });
    if (sink !== null) {
      const j = judge(r.outcomes, "clean", {
        windowHits: r.windowHits,
        minWindowHits: SLICE_MIN_WINDOW,
        control: null,
      });
      const judgement = r.aborted ? "fault" : r.interrupted ? "interrupted" : j.judgement;
      sink.append(stressRecord("soak-slice", r, config, judgement, SLICE_MIN_WINDOW));
    }
    const t = totals[k];
    t.runs++;
    t.seconds += r.durationMs / 1000;
    t.iterations += r.iterations;
    t.gupCalls += r.gupCalls;
    t.mutatorOps += r.mutatorOps.total;
    t.races += r.races;
    t.forbidden += forbiddenIn(r.outcomes);
    if (!matches(r, "clean")) failures.push(r);
    if (!json) {
      io.err(
        `[soak ${((Date.now() - started) / 60_000).toFixed(1)} min] ${r.fix} ${r.mode}: ${r.iterations.toLocaleString("en-US")} iterations, ${r.races} races\n`,
      );
    }
    if (r.aborted) aborted = r.aborted;
    if (r.interrupted) interrupted = r.interrupted;
    if (aborted || interrupted) break;
  }
  sink?.close();
  const sum = (key: keyof Total) => totals.reduce((a, t) => a + (t[key] as number), 0);
  const ok = failures.length === 0 && aborted === null;
  if (json) {
    io.out(
      `${JSON.stringify({ minutes: (Date.now() - started) / 60_000, cpus, ok, aborted, interrupted, totals, iterations: sum("iterations"), races: sum("races"), forbidden: sum("forbidden"), failures: failures.map((r) => ({ fix: r.fix, mode: r.mode, seed: r.seed, races: r.races, undeclared: r.undeclared })) })}\n`,
    );
  } else {
    const n = (x: number) => Math.round(x).toLocaleString("en-US");
    const rows = totals.map(
      (t) =>
        `  ${t.fix.padEnd(9)}${t.mode.padEnd(10)}${String(t.runs).padStart(5)}${t.seconds.toFixed(0).padStart(8)}${n(t.iterations).padStart(15)}${n(t.gupCalls).padStart(15)}${n(t.mutatorOps).padStart(13)}${String(t.races).padStart(7)}${String(t.forbidden).padStart(10)}`,
    );
    io.out(
      [
        `gupstress soak: ${cpus} CPUs, ${((Date.now() - started) / 60_000).toFixed(1)} minutes`,
        "  fix      mode       runs       s     iterations      GUP calls mutator ops  races forbidden",
        ...rows,
        `  total: ${n(sum("iterations"))} iterations, ${n(sum("races"))} races, ${n(sum("forbidden"))} FORBIDDEN outcomes: ${ok ? "clean" : "NOT clean"}`,
        ...(aborted ? [`  ABORTED: ${aborted}`] : []),
        ...(interrupted ? [`  interrupted by ${interrupted}: totals so far`] : []),
        "",
      ].join("\n"),
    );
  }
  if (interrupted) return interrupted === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
  if (aborted) return EXIT.fault;
  return ok ? EXIT.ok : EXIT.mismatch;
}
