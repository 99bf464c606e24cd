// gupstress explore, without the command line: build the kernel model for a
// fix, run a strategy over it, and turn what it found into a report with a
// drawn counterexample and a replay string.

import { performance } from "node:perf_hooks";
import { type Fix, findFix, RACY_FIXES } from "../kernel/fixes.js";
import type { TraceStep } from "../run/stress.js";
import { type Grade, OUTCOMES } from "../scenarios/gup-vs-collapse.js";
import { KernelModel, MODEL_LIMITS } from "./model.js";
import {
  decodeSchedule,
  encodeSchedule,
  exhaustive,
  replay,
  type SearchResult,
  sample,
  simplestCounterexample,
} from "./scheduler.js";

export type Strategy = "exhaustive" | "pct" | "random";
export const STRATEGIES: readonly Strategy[] = ["exhaustive", "pct", "random"];

export interface ExploreOptions {
  /** a fix name, or a weakened one ("base~knob=value", see findFix) */
  fix: string;
  strategy: Strategy;
  cpus: number;
  ptes: number;
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
  /** v1/FIX/cCPUS/pPTES/SCHEDULE: `gupstress explore --replay` runs it again, step for step */
  replay: string;
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
  fix: string;
  summary: string;
  strategy: Strategy;
  /** exhaustive: the preemption bound (null: none); pct: the depth; random: null */
  bound: number | null;
  boundKind: "preemptions" | "depth" | null;
  cpus: number;
  ptes: number;
  seed: number | null;
  /** interleavings covered (exhaustive: counted over the whole space, revisits not re-run) */
  explored: number;
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
  outcomes: Record<string, { count: number; grade: Grade; text: string }>;
  verdict: "race" | "clean";
  counterexample: Counterexample | null;
}

export function resolveFix(name: string): Fix {
  const fix = findFix(name);
  if (fix === undefined) throw new Error(`unknown fix ${name}`);
  return fix;
}

/** What a fix is expected to give: the racy ones race, the others are clean. */
export function expectationOf(fix: string): "race" | "clean" {
  return (RACY_FIXES as readonly string[]).includes(fix) ? "race" : "clean";
}

export function explore(opt: ExploreOptions): ExploreReport {
  const fix = resolveFix(opt.fix);
  const model = new KernelModel({ fix, cpus: opt.cpus, ptes: opt.ptes });
  const t0 = performance.now();
  let r: SearchResult;
  if (opt.strategy === "exhaustive") {
    r = exhaustive(model, {
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
  } else {
    r = sample(model, {
      runs: opt.runs,
      seed: opt.seed,
      pctDepth: opt.strategy === "pct" ? opt.depth : undefined,
      onProgress: opt.onProgress,
    });
  }
  const ms = performance.now() - t0;
  const outcomes: ExploreReport["outcomes"] = {};
  OUTCOMES.forEach((o, i) => {
    outcomes[o.key] = { count: r.histogram[i], grade: o.grade, text: o.text };
  });
  const exhaustiveRun = opt.strategy === "exhaustive";
  return {
    fix: opt.fix,
    summary: fix.summary,
    strategy: opt.strategy,
    bound: exhaustiveRun ? opt.preemptions : opt.strategy === "pct" ? opt.depth : null,
    boundKind: exhaustiveRun ? "preemptions" : opt.strategy === "pct" ? "depth" : null,
    cpus: opt.cpus,
    ptes: opt.ptes,
    seed: exhaustiveRun ? null : opt.seed,
    explored: r.explored,
    violations: r.violations,
    complete: r.complete,
    states: r.states,
    steps: r.steps,
    ms: Math.round(ms * 1000) / 1000,
    interleavingsPerSec: ms > 0 ? Math.round((r.explored / ms) * 1000) : 0,
    statesPerSec: ms > 0 ? Math.round((r.states / ms) * 1000) : 0,
    outcomes,
    verdict: r.violations > 0 ? "race" : "clean",
    counterexample:
      r.counterexample === null
        ? null
        : {
            ...replayTrace(formatReplay(opt.fix, opt.cpus, opt.ptes, r.counterexample.actions)),
            preemptions: r.counterexample.preemptions,
          },
  };
}

// ---- replay strings --------------------------------------------------------------------

const REPLAY_VERSION = "v1";

export function formatReplay(
  fix: string,
  cpus: number,
  ptes: number,
  actions: readonly number[],
): string {
  return `${REPLAY_VERSION}/${fix}/c${cpus}/p${ptes}/${encodeSchedule(actions)}`;
}

export interface ParsedReplay {
  fix: string;
  cpus: number;
  ptes: number;
  actions: number[];
}

/** Throws an Error whose message says what is wrong with the string. */
export function parseReplay(text: string): ParsedReplay {
  const parts = text.trim().split("/");
  if (parts.length !== 5 || parts[0] !== REPLAY_VERSION) {
    throw new Error(`replay string '${text}' is not ${REPLAY_VERSION}/FIX/cCPUS/pPTES/SCHEDULE`);
  }
  const [, fix, c, p, schedule] = parts;
  if (findFix(fix) === undefined) throw new Error(`replay string names an unknown fix '${fix}'`);
  const cpus = /^c(\d+)$/.exec(c);
  const ptes = /^p(\d+)$/.exec(p);
  if (cpus === null || ptes === null)
    throw new Error(`replay string: '${c}/${p}' is not cCPUS/pPTES`);
  const n = Number(cpus[1]);
  const k = Number(ptes[1]);
  const { cpus: cl, ptes: pl } = MODEL_LIMITS;
  if (n < cl.min || n > cl.max || k < pl.min || k > pl.max) {
    throw new Error(
      `replay string: ${n} CPUs x ${k} ptes is outside ${cl.min}..${cl.max} CPUs x ${pl.min}..${pl.max} ptes`,
    );
  }
  return { fix, cpus: n, ptes: k, actions: decodeSchedule(schedule) };
}

/** Run a replay string again from scratch, tracing every step. */
export function replayTrace(text: string): Omit<Counterexample, "preemptions"> {
  const p = parseReplay(text);
  const model = new KernelModel({
    fix: resolveFix(p.fix),
    cpus: p.cpus,
    ptes: p.ptes,
    tracing: true,
  });
  const o = replay(model, p.actions);
  return {
    replay: formatReplay(p.fix, p.cpus, p.ptes, p.actions),
    trace: model.trace(),
    outcome: o.labels.map((l) => model.labels[l]),
    steps: p.actions.length,
    frame: model.staleFrame,
    index: model.staleIndex,
    detail: model.detail,
  };
}
