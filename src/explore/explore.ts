// gupstress explore, without the command line: build the kernel model of a
// scenario for a fix, run a strategy over it for every choice of the walkers'
// page ranges, and turn what it found into a report with a drawn
// counterexample and a replay string.

import { performance } from "node:perf_hooks";
import type { TraceStep } from "../kernel/trace.js";
import { verdictOf } from "../run/verdict.js";
import { DEFAULT_SCENARIO, resolveFix, scenarioByName } from "../scenarios/index.js";
import type { Grade, OutcomeTag, Scenario } from "../scenarios/scenario.js";
import { KernelModel, MODEL_LIMITS } from "./model.js";
import {
  agentOf,
  decodeSchedule,
  encodeSchedule,
  exhaustive,
  type Found,
  MAX_SCHEDULE_ACTIONS,
  type Model,
  ReplayError,
  replay,
  type SearchResult,
  sample,
  simplestCounterexample,
} from "./scheduler.js";

export type Strategy = "exhaustive" | "pct" | "random";
export const STRATEGIES: readonly Strategy[] = ["exhaustive", "pct", "random"];

export interface ExploreOptions {
  /** a scenario name (default gup-vs-collapse) */
  scenario?: string;
  /** a fix name, or a weakened one ("base~knob=value", see parseFix) */
  fix: string;
  strategy: Strategy;
  cpus: number;
  ptes: number;
  /** bystander CPUs (never walk this mm; one IRQ-off section each); default 0 */
  bystanders?: number;
  /** exhaustive: preemption bound, null for none */
  preemptions: number | null;
  /** pct: depth d */
  depth: number;
  /** pct, random: runs */
  runs: number;
  seed: number;
  /** exhaustive: stop (complete: false) after this many distinct states */
  maxStates?: number;
  /** exhaustive: run every interleaving to its end instead of pruning revisited states */
  noMemo?: boolean;
  /** called now and then from the search: states run (exhaustive) or runs done (pct, random) */
  onProgress?: (done: number) => void;
}

export const DEFAULT_EXPLORE: Omit<ExploreOptions, "fix"> = {
  strategy: "exhaustive",
  cpus: 2,
  ptes: 3,
  preemptions: null,
  depth: 3,
  runs: 10_000,
  seed: 1,
};

export interface Counterexample {
  /** v2/SCENARIO/FIX/cCPUS/pPTES/wRANGES/SCHEDULE: `gupstress explore --replay` runs it again, step for step */
  replay: string;
  /** each walker's pages, [first, count] */
  ranges: [number, number][];
  trace: TraceStep[];
  /** outcome labels of the final state (the stress histogram's keys) */
  outcome: string[];
  preemptions: number;
  steps: number;
  /** the stale frame and its page index, -1 if the violation is not a stale pin */
  frame: number;
  index: number;
  detail: string;
}

export interface ExploreReport {
  scenario: string;
  fix: string;
  summary: string;
  strategy: Strategy;
  /** exhaustive: the preemption bound (null: none); pct: the depth; random: null */
  bound: number | null;
  boundKind: "preemptions" | "depth" | null;
  cpus: number;
  /** bystander CPUs modelled */
  bystanders: number;
  ptes: number;
  seed: number | null;
  /** interleavings covered (exhaustive: counted over the whole space, revisits not re-run) */
  explored: number;
  /** the walkers' page ranges explored: every [first, count] for each walker */
  rangeChoices: number;
  /** interleavings that end in a FORBIDDEN outcome */
  violations: number;
  /** true when the whole bounded space was covered */
  complete: boolean;
  /** distinct states executed (exhaustive, with the search for the simplest counterexample) or runs (sampling) */
  states: number;
  steps: number;
  ms: number;
  interleavingsPerSec: number;
  statesPerSec: number;
  outcomes: Record<string, { count: number; grade: Grade; text: string; tag: OutcomeTag }>;
  verdict: "race" | "clean";
  counterexample: Counterexample | null;
}

/** Every page range a walk can take over `ptes` pages: [first, count]. */
export function allRanges(ptes: number): [number, number][] {
  const out: [number, number][] = [];
  for (let first = 0; first < ptes; first++)
    for (let count = ptes - first; count >= 1; count--) out.push([first, count]);
  return out;
}

/** Every assignment of a range to each of `walkers` walkers, the whole region first. */
function rangeChoices(walkers: number, ptes: number): [number, number][][] {
  let out: [number, number][][] = [[]];
  for (let i = 0; i < walkers; i++)
    out = out.flatMap((pre) => allRanges(ptes).map((r) => [...pre, r]));
  return out;
}

/** One search (exhaustive, pct or random) over one model. */
function search(model: Model, opt: ExploreOptions): SearchResult {
  if (opt.strategy !== "exhaustive") {
    return sample(model, {
      runs: opt.runs,
      seed: opt.seed,
      pctDepth: opt.strategy === "pct" ? opt.depth : undefined,
      onProgress: opt.onProgress,
    });
  }
  const r = exhaustive(model, {
    preemptions: opt.preemptions,
    maxStates: opt.maxStates,
    memo: opt.noMemo !== true,
    onProgress: opt.onProgress,
  });
  // Draw the counterexample with the fewest preemptions: the easiest to read.
  if (r.violations > 0) {
    const simplest = simplestCounterexample(model, opt.preemptions ?? 64);
    if (simplest.found !== null) r.counterexample = simplest.found;
    r.states += simplest.states;
    r.steps += simplest.steps;
  }
  return r;
}

/** Fewer preemptions, then fewer steps: the easier counterexample to read and to force on threads. */
function simpler(a: Found, b: Found | null): boolean {
  if (b === null) return true;
  if (a.preemptions !== b.preemptions) return a.preemptions < b.preemptions;
  return a.actions.length < b.actions.length;
}

/** Explore every choice of the walks' ranges, then report (synchronous: Ctrl-C ends the process). */
export function explore(opt: ExploreOptions): ExploreReport {
  const run = exploreChoices(opt);
  for (let step = run.next(); ; step = run.next()) if (step.done) return step.value;
}

/**
 * The same, giving the event loop a turn between two choices of the walks'
 * ranges, so that a caller's Ctrl-C is heard; null when `signal` stopped it.
 */
export async function exploreAsync(
  opt: ExploreOptions,
  signal?: AbortSignal,
): Promise<ExploreReport | null> {
  const run = exploreChoices(opt);
  for (let step = run.next(); ; step = run.next()) {
    if (step.done) return step.value;
    await new Promise<void>((r) => setImmediate(r));
    if (signal?.aborted) return null;
  }
}

function* exploreChoices(opt: ExploreOptions): Generator<void, ExploreReport, void> {
  const scenario = scenarioByName(opt.scenario ?? DEFAULT_SCENARIO);
  const fix = resolveFix(scenario, opt.fix);
  const t0 = performance.now();
  // The range each walk covers is a choice the explorer makes: one search per choice.
  // Sampling strategies split their runs over the choices.
  const choices = rangeChoices(opt.cpus - 1, opt.ptes);
  const labels = scenario.outcomes.length;
  const total: SearchResult = {
    explored: 0,
    violations: 0,
    histogram: new Float64Array(labels),
    states: 0,
    steps: 0,
    complete: true,
    counterexample: null,
  };
  let cexRanges: [number, number][] = [];
  // Progress counts over the whole exploration: states (exhaustive) or runs (sampling) so far.
  let doneBefore = 0;
  const report = opt.onProgress;
  for (let k = 0; k < choices.length; k++) {
    const ranges = choices[k];
    if (opt.strategy !== "exhaustive" && k >= opt.runs) break;
    const model = new KernelModel({
      scenario,
      fix,
      cpus: opt.cpus,
      ptes: opt.ptes,
      ranges,
      bystanders: opt.bystanders,
    });
    const part: ExploreOptions = {
      ...opt,
      onProgress: report && ((done: number) => report(doneBefore + done)),
      ...(opt.strategy === "exhaustive"
        ? {}
        : {
            seed: opt.seed + k,
            runs: Math.floor(opt.runs / choices.length) + (k < opt.runs % choices.length ? 1 : 0),
          }),
    };
    const r = search(model, part);
    doneBefore += opt.strategy === "exhaustive" ? r.states : r.explored;
    total.explored += r.explored;
    total.violations += r.violations;
    for (let l = 0; l < labels; l++) total.histogram[l] += r.histogram[l];
    total.states += r.states;
    total.steps += r.steps;
    total.complete &&= r.complete;
    if (r.counterexample !== null && simpler(r.counterexample, total.counterexample)) {
      total.counterexample = r.counterexample;
      cexRanges = ranges;
    }
    yield;
  }
  const r = total;
  const ms = performance.now() - t0;
  const outcomes: ExploreReport["outcomes"] = {};
  scenario.outcomes.forEach((o, i) => {
    outcomes[o.key] = { count: r.histogram[i], grade: o.grade, text: o.text, tag: o.tag };
  });
  const exhaustiveRun = opt.strategy === "exhaustive";
  return {
    scenario: scenario.name,
    fix: opt.fix,
    summary: fix.summary,
    strategy: opt.strategy,
    bound: exhaustiveRun ? opt.preemptions : opt.strategy === "pct" ? opt.depth : null,
    boundKind: exhaustiveRun ? "preemptions" : opt.strategy === "pct" ? "depth" : null,
    cpus: opt.cpus,
    bystanders: opt.bystanders ?? 0,
    ptes: opt.ptes,
    seed: exhaustiveRun ? null : opt.seed,
    explored: r.explored,
    rangeChoices: choices.length,
    violations: r.violations,
    complete: r.complete,
    states: r.states,
    steps: r.steps,
    ms: Math.round(ms * 1000) / 1000,
    interleavingsPerSec: ms > 0 ? Math.round((r.explored / ms) * 1000) : 0,
    statesPerSec: ms > 0 ? Math.round((r.states / ms) * 1000) : 0,
    outcomes,
    verdict: verdictOf(outcomes),
    counterexample:
      r.counterexample === null
        ? null
        : {
            ...replayTrace(
              formatReplay({
                scenario: scenario.name,
                fix: opt.fix,
                cpus: opt.cpus,
                bystanders: opt.bystanders ?? 0,
                ptes: opt.ptes,
                ranges: cexRanges,
                actions: r.counterexample.actions,
              }),
            ),
            preemptions: r.counterexample.preemptions,
          },
  };
}

// ---- replay strings --------------------------------------------------------------------
// v2/SCENARIO/FIX/cCPUS/pPTES/wFIRST+COUNT[,FIRST+COUNT...]/SCHEDULE. v1 strings
// (v1/FIX/cCPUS/pPTES/SCHEDULE, before scenarios) name gup-vs-collapse with
// every walk over the whole region; the model has grown steps since, so a v1
// schedule that stops early is completed deterministically (lowest CPU first).

export interface ParsedReplay {
  version: "v1" | "v2";
  scenario: string;
  fix: string;
  cpus: number;
  /** bystander CPUs, written cCPUSbN (absent when 0) */
  bystanders?: number;
  ptes: number;
  ranges: [number, number][];
  actions: number[];
}

export function formatReplay(p: Omit<ParsedReplay, "version">): string {
  const ranges = p.ranges.map(([first, count]) => `${first}+${count}`).join(",");
  const b = (p.bystanders ?? 0) > 0 ? `b${p.bystanders}` : "";
  return `v2/${p.scenario}/${p.fix}/c${p.cpus}${b}/p${p.ptes}/w${ranges}/${encodeSchedule(p.actions)}`;
}

/** Throws an Error whose message says what is wrong with the string. */
export function parseReplay(text: string): ParsedReplay {
  const parts = text.trim().split("/");
  const v1 = parts.length === 5 && parts[0] === "v1";
  if (!v1 && (parts.length !== 7 || parts[0] !== "v2")) {
    throw new Error(
      `replay string '${text}' is not v2/SCENARIO/FIX/cCPUS/pPTES/wRANGES/SCHEDULE (or v1/FIX/cCPUS/pPTES/SCHEDULE)`,
    );
  }
  const [scenarioName, fix, c, p, w, schedule] = v1
    ? [DEFAULT_SCENARIO, parts[1], parts[2], parts[3], null, parts[4]]
    : parts.slice(1);
  let scenario: Scenario;
  try {
    scenario = scenarioByName(scenarioName);
    resolveFix(scenario, fix);
  } catch (e) {
    throw new Error(`replay string: ${(e as Error).message}`);
  }
  const cpus = /^c(\d+)(?:b(\d+))?$/.exec(c);
  const ptes = /^p(\d+)$/.exec(p);
  if (cpus === null || ptes === null)
    throw new Error(`replay string: '${c}/${p}' is not cCPUS[bBYSTANDERS]/pPTES`);
  const n = Number(cpus[1]);
  const b = cpus[2] === undefined ? 0 : Number(cpus[2]);
  const bl = MODEL_LIMITS.bystanders;
  if (b < bl.min || b > bl.max)
    throw new Error(`replay string: ${b} bystanders is outside ${bl.min}..${bl.max}`);
  const k = Number(ptes[1]);
  const { cpus: cl, ptes: pl } = MODEL_LIMITS;
  if (n < cl.min || n > cl.max || k < pl.min || k > pl.max) {
    throw new Error(
      `replay string: ${n} CPUs x ${k} ptes is outside ${cl.min}..${cl.max} CPUs x ${pl.min}..${pl.max} ptes`,
    );
  }
  let ranges: [number, number][] = Array.from({ length: n - 1 }, () => [0, k]);
  if (w !== null) {
    const m = /^w(\d+\+\d+(?:,\d+\+\d+)*)$/.exec(w);
    if (m === null) throw new Error(`replay string: '${w}' is not wFIRST+COUNT[,FIRST+COUNT...]`);
    ranges = m[1].split(",").map((x) => x.split("+").map(Number) as [number, number]);
    if (ranges.length !== n - 1 || ranges.some(([f, cnt]) => cnt < 1 || f + cnt > k))
      throw new Error(`replay string: '${w}' needs ${n - 1} ranges within ${k} pages`);
  }
  let actions: number[];
  try {
    actions = decodeSchedule(schedule);
  } catch (e) {
    throw new Error(`replay string: ${(e as Error).message}`);
  }
  return {
    version: v1 ? "v1" : "v2",
    scenario: scenarioName,
    fix,
    cpus: n,
    ...(b > 0 ? { bystanders: b } : {}),
    ptes: k,
    ranges,
    actions,
  };
}

/** A v1 schedule that stops early: run what is left, the lowest CPU's next step first. */
function completeV1(model: Model, actions: number[]): number[] {
  const out = actions.slice();
  const en: number[] = [];
  replayPrefix(model, out);
  for (
    let n = model.enabled(en);
    n > 0 && out.length < MAX_SCHEDULE_ACTIONS;
    n = model.enabled(en)
  ) {
    const act = en.slice(0, n).sort((a, b) => agentOf(a) - agentOf(b) || a - b)[0];
    model.apply(act);
    out.push(act);
  }
  return out;
}

/** Run a schedule's actions from the start, each checked to be enabled (ReplayError if not). */
function replayPrefix(model: Model, actions: readonly number[]): void {
  model.reset();
  const en: number[] = [];
  for (let i = 0; i < actions.length; i++) {
    const n = model.enabled(en);
    if (!en.slice(0, n).includes(actions[i])) {
      throw new ReplayError(
        `replay diverged at action ${i + 1}: ${encodeSchedule([actions[i]])} is not enabled (enabled: ${encodeSchedule(en.slice(0, n)) || "none"})`,
      );
    }
    model.apply(actions[i]);
  }
}

/** Run a replay string again from scratch, tracing every step. */
export function replayTrace(text: string): Omit<Counterexample, "preemptions"> {
  const p = parseReplay(text);
  const scenario = scenarioByName(p.scenario);
  const model = new KernelModel({
    scenario,
    fix: resolveFix(scenario, p.fix),
    cpus: p.cpus,
    bystanders: p.bystanders,
    ptes: p.ptes,
    ranges: p.ranges,
    tracing: true,
  });
  const actions = p.version === "v1" ? completeV1(model, p.actions) : p.actions;
  const o = replay(model, actions);
  return {
    replay: formatReplay({ ...p, actions }),
    ranges: p.ranges,
    trace: model.trace(),
    outcome: o.labels.map((l) => model.labels[l]),
    steps: actions.length,
    frame: model.staleFrame,
    index: model.staleIndex,
    detail: model.detail,
  };
}
