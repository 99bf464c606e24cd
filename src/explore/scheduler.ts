// The deterministic scheduler: one thread, a model whose agents (CPUs) each
// offer their next action, and a strategy that picks which one runs next.
// Knows nothing about page tables: the kernel model is in model.ts, tiny
// hand-made models live in the tests.
//
// An action is a small integer: agent * 2 + kind, where kind 0 is the agent's
// next step and kind 1 is taking a pending interrupt (an IPI); past those,
// HOST_BASE + agent is the host preempting the agent's vCPU, or letting it
// run again (a toggle). A schedule is the sequence of actions; written as
// letters (A = CPU 0 steps, b = CPU 1 takes an IPI, ^B = CPU 1 is preempted
// or resumed by the host) with run lengths, it is the replay string's body.
// Schedules written before host preemption existed read the same.

import { Rng } from "../run/random.js";

export interface Outcome {
  /** indexes into the model's labels: every label this interleaving ended with */
  labels: number[];
  /** a FORBIDDEN outcome (the oracle's word, never the fix's name) */
  violation: boolean;
}

export interface Model {
  /** the outcome labels, indexed by Outcome.labels */
  readonly labels: readonly string[];
  /** back to the initial state */
  reset(): void;
  /** write the enabled actions into `out`, returns how many */
  enabled(out: number[]): number;
  apply(action: number): void;
  /**
   * an opaque copy of the whole state, and back; `reuse`, when given, is an
   * earlier snapshot of this model that is no longer needed, to write over
   */
  save(reuse?: unknown): unknown;
  restore(snapshot: unknown): void;
  /** a hash of everything that decides the future (53 bits, for the visited table) */
  hash(): number;
  /** grade a final state (no action enabled); may scribble on the state */
  outcome(): Outcome;
}

/** Letters cap the agents at 26. */
export const MAX_AGENTS = 26;
/** Host-preemption actions: HOST_BASE + agent. */
export const HOST_BASE = MAX_AGENTS * 2;
/** Every action is below this. */
export const MAX_ACTIONS = HOST_BASE + MAX_AGENTS;

export const agentOf = (action: number): number =>
  action >= HOST_BASE ? action - HOST_BASE : action >> 1;
export const isInterrupt = (action: number): boolean => action < HOST_BASE && (action & 1) === 1;
export const isHostToggle = (action: number): boolean => action >= HOST_BASE;
export const hostToggle = (agent: number): number => HOST_BASE + agent;

// ---- schedules as text ----------------------------------------------------------

const A = "A".charCodeAt(0);
const a = "a".charCodeAt(0);

/** Actions -> "A3B5Ab": a letter per action, followed by its repeat count when above 1. */
export function encodeSchedule(actions: readonly number[]): string {
  let out = "";
  for (let i = 0; i < actions.length; ) {
    let n = 1;
    while (i + n < actions.length && actions[i + n] === actions[i]) n++;
    const act = actions[i];
    if (isHostToggle(act)) out += "^";
    out += String.fromCharCode((isInterrupt(act) ? a : A) + agentOf(act));
    if (n > 1) out += String(n);
    i += n;
  }
  return out;
}

/** The longest schedule decodeSchedule expands (checked before expanding). */
export const MAX_SCHEDULE_ACTIONS = 1_000_000;

/** The inverse of encodeSchedule; throws on anything else. */
export function decodeSchedule(text: string): number[] {
  const out: number[] = [];
  const re = /(\^?)([A-Za-z])(\d*)/gy;
  let m: RegExpExecArray | null = re.exec(text);
  let at = 0;
  while (m !== null) {
    at = re.lastIndex;
    const code = m[2].charCodeAt(0);
    if (m[1] === "^" && code >= a)
      throw new Error(
        `schedule: '^${m[2]}' at ${m.index}: a host preemption names a CPU in capitals`,
      );
    const act =
      m[1] === "^" ? hostToggle(code - A) : code >= a ? (code - a) * 2 + 1 : (code - A) * 2;
    const n = m[3] === "" ? 1 : Number(m[3]);
    if (n < 1) throw new Error(`schedule: repeat count ${m[3]} at ${m.index}`);
    if (n > MAX_SCHEDULE_ACTIONS - out.length) {
      throw new Error(
        `schedule: more than ${MAX_SCHEDULE_ACTIONS.toLocaleString("en-US")} actions (repeat count ${m[3]} at ${m.index})`,
      );
    }
    for (let k = 0; k < n; k++) out.push(act);
    if (at === text.length) break;
    m = re.exec(text);
  }
  if (at !== text.length) throw new Error(`schedule: cannot read '${text.slice(at, at + 8)}'`);
  return out;
}

/** Preemptions in a schedule: switches away from an agent that could still have run. */
function preemptionsOf(model: Model, actions: readonly number[]): number {
  model.reset();
  const en: number[] = [];
  let prev = -1;
  let count = 0;
  for (const act of actions) {
    const n = model.enabled(en);
    if (prev >= 0 && agentOf(act) !== prev && stillEnabled(en, n, prev)) count++;
    model.apply(act);
    prev = agentOf(act);
  }
  return count;
}

function stillEnabled(en: readonly number[], n: number, agent: number): boolean {
  for (let i = 0; i < n; i++) if (agentOf(en[i]) === agent) return true;
  return false;
}

// ---- results --------------------------------------------------------------------

export interface Found {
  actions: number[];
  preemptions: number;
  outcome: Outcome;
}

export interface SearchResult {
  /** interleavings covered (with the visited table: counted, not each re-run) */
  explored: number;
  violations: number;
  /** count per label over the interleavings covered */
  histogram: Float64Array;
  /** distinct states executed (exhaustive) or runs (pct, random) */
  states: number;
  /** actions applied: the work actually done */
  steps: number;
  /** the whole bounded space was covered */
  complete: boolean;
  /** the counterexample with the fewest preemptions, then the fewest steps */
  counterexample: Found | null;
}

// ---- exhaustive -------------------------------------------------------------------

export interface ExhaustiveOptions {
  /** preemption bound (CHESS); null: none */
  preemptions: number | null;
  /** prune revisited states (sound: the future depends on the state alone) */
  memo?: boolean;
  /** give up (complete: false) after this many distinct states */
  maxStates?: number;
  /** called with the states run so far, every PROGRESS_STATES states */
  onProgress?: (states: number) => void;
}

/** How often (a power of two) the searches call their onProgress. */
export const PROGRESS_STATES = 16384;
export const PROGRESS_RUNS = 256;

interface Entry {
  total: number;
  violating: number;
  hist: number[];
  /** length of the shortest violating suffix from here, -1 if none */
  cexLen: number;
  /** its first action and the entry it leads to (a chain, not a copy per state) */
  cexAct: number;
  cexNext: Entry | null;
}

/**
 * Depth-first over every schedule. A state already seen (same hash, and under
 * a bound the same previous agent and preemptions spent) is not re-run: its
 * counts are added again, so `explored` is the number of interleavings in the
 * space, while `states` is the work done.
 */
export function exhaustive(model: Model, opt: ExhaustiveOptions): SearchResult {
  const bound = opt.preemptions;
  const memo = opt.memo !== false;
  const maxStates = opt.maxStates ?? Number.POSITIVE_INFINITY;
  const onProgress = opt.onProgress;
  const labels = model.labels.length;
  const seen = new Map<number, Entry>();
  let states = 0;
  let steps = 0;
  let complete = true;
  const buffers: number[][] = [];
  const orders: number[][] = [];
  // One snapshot per depth, written over by the next state at that depth.
  const snaps: unknown[] = [];

  const visit = (prev: number, used: number, depth: number): Entry => {
    let key = 0;
    if (memo) {
      key = model.hash();
      if (bound !== null) key = mixKey(key, prev, used);
      const hit = seen.get(key);
      if (hit !== undefined) return hit;
    }
    states++;
    if (onProgress !== undefined && (states & (PROGRESS_STATES - 1)) === 0) onProgress(states);
    if (buffers[depth] === undefined) buffers[depth] = [];
    const en = buffers[depth];
    const n = model.enabled(en);
    const e: Entry = {
      total: 0,
      violating: 0,
      // A plain array: a typed array per state costs more than the rest of the bookkeeping.
      hist: new Array<number>(labels).fill(0),
      cexLen: -1,
      cexAct: -1,
      cexNext: null,
    };
    if (n === 0) {
      const o = model.outcome();
      e.total = 1;
      for (const l of o.labels) e.hist[l]++;
      if (o.violation) {
        e.violating = 1;
        e.cexLen = 0;
      }
    } else if (states > maxStates) {
      complete = false;
    } else {
      const snap = model.save(snaps[depth]);
      snaps[depth] = snap;
      // The running agent first: the first counterexample found switches least.
      if (orders[depth] === undefined) orders[depth] = [];
      const order = orders[depth];
      sortByRank(en, n, prev, order);
      const prevEnabled = prev >= 0 && stillEnabled(order, n, prev);
      for (let i = 0; i < n; i++) {
        const act = order[i];
        const preempts = prevEnabled && agentOf(act) !== prev ? 1 : 0;
        if (bound !== null && used + preempts > bound) continue;
        model.apply(act);
        steps++;
        const sub = visit(agentOf(act), used + preempts, depth + 1);
        if (i < n - 1) model.restore(snap);
        e.total += sub.total;
        e.violating += sub.violating;
        for (let l = 0; l < labels; l++) e.hist[l] += sub.hist[l];
        if (sub.cexLen >= 0 && (e.cexLen < 0 || sub.cexLen + 1 < e.cexLen)) {
          e.cexLen = sub.cexLen + 1;
          e.cexAct = act;
          e.cexNext = sub;
        }
      }
    }
    if (memo) seen.set(key, e);
    return e;
  };

  model.reset();
  const root = visit(-1, 0, 0);
  let counterexample: Found | null = null;
  if (root.cexLen >= 0) {
    const actions: number[] = [];
    for (let at: Entry | null = root; at !== null && at.cexLen > 0; at = at.cexNext) {
      actions.push(at.cexAct);
    }
    counterexample = {
      actions,
      preemptions: preemptionsOf(model, actions),
      outcome: replayOutcome(model, actions),
    };
  }
  return {
    explored: root.total,
    violations: root.violating,
    histogram: Float64Array.from(root.hist),
    states,
    steps,
    complete,
    counterexample,
  };
}

function rank(act: number, prev: number): number {
  return (agentOf(act) === prev ? 0 : 1000) + act;
}

/** en[0 .. n) into out[0 .. n), by rank (an insertion sort: n is a handful of actions). */
function sortByRank(en: readonly number[], n: number, prev: number, out: number[]): void {
  for (let i = 0; i < n; i++) {
    const act = en[i];
    const r = rank(act, prev);
    let k = i;
    while (k > 0 && rank(out[k - 1], prev) > r) {
      out[k] = out[k - 1];
      k--;
    }
    out[k] = act;
  }
}

function mixKey(h: number, prev: number, used: number): number {
  const lo = h % 2097152;
  const hi = Math.floor(h / 2097152);
  const m = Math.imul(
    hi ^ Math.imul(prev + 2, 0x9e3779b1) ^ Math.imul(used + 1, 0x85ebca6b),
    0x27d4eb2d,
  );
  return (m >>> 0) * 2097152 + lo;
}

/**
 * Iterative preemption bounding: the first bound 0, 1, 2, ... that holds a
 * counterexample gives the one with the fewest preemptions (the easiest to
 * read and to force on real threads).
 */
export function simplestCounterexample(
  model: Model,
  maxBound: number,
): { found: Found | null; states: number; steps: number } {
  let states = 0;
  let steps = 0;
  for (let b = 0; b <= maxBound; b++) {
    const r = exhaustive(model, { preemptions: b });
    states += r.states;
    steps += r.steps;
    if (r.counterexample !== null) return { found: r.counterexample, states, steps };
  }
  return { found: null, states, steps };
}

// ---- sampling: PCT and random -------------------------------------------------------------

export interface SampleOptions {
  runs: number;
  seed: number;
  /** PCT depth d: d - 1 priority change points per run; absent: uniform random */
  pctDepth?: number;
  /** called with the runs done so far, every PROGRESS_RUNS runs */
  onProgress?: (runs: number) => void;
}

/**
 * Runs of a sampling strategy. PCT (Burckhardt et al., ASPLOS 2010): each
 * (agent, kind) gets a random priority, the highest enabled one runs, and at
 * d - 1 random steps the one that just ran drops below all others.
 */
export function sample(model: Model, opt: SampleOptions): SearchResult {
  const rng = new Rng(opt.seed, 0x5c4ed);
  const labels = model.labels.length;
  const hist = new Float64Array(labels);
  const en: number[] = [];
  const actions: number[] = [];
  let violations = 0;
  let steps = 0;
  let best: Found | null = null;
  // PCT needs the run length k: learn it from a first random run.
  let k = 0;
  if (opt.pctDepth !== undefined) {
    model.reset();
    for (let n = model.enabled(en); n > 0; n = model.enabled(en)) {
      model.apply(en[rng.below(n)]);
      k++;
    }
  }
  const priority = new Float64Array(MAX_ACTIONS);
  const change: number[] = [];
  for (let run = 0; run < opt.runs; run++) {
    if (opt.onProgress !== undefined && run > 0 && (run & (PROGRESS_RUNS - 1)) === 0) {
      opt.onProgress(run);
    }
    model.reset();
    actions.length = 0;
    if (opt.pctDepth !== undefined) {
      const d = opt.pctDepth;
      // Distinct priorities above d - 1, in a random order.
      for (let i = 0; i < priority.length; i++) priority[i] = d + rng.float();
      change.length = 0;
      for (let i = 0; i < d - 1; i++) change.push(1 + rng.below(Math.max(1, k)));
    }
    for (let n = model.enabled(en); n > 0; n = model.enabled(en)) {
      let act: number;
      if (opt.pctDepth === undefined) act = en[rng.below(n)];
      else {
        act = en[0];
        for (let i = 1; i < n; i++) if (priority[en[i]] > priority[act]) act = en[i];
        const at = change.indexOf(actions.length + 1);
        if (at >= 0) priority[act] = at;
      }
      model.apply(act);
      actions.push(act);
      steps++;
    }
    const o = model.outcome();
    for (const l of o.labels) hist[l]++;
    if (o.violation) {
      violations++;
      if (best === null || actions.length < best.actions.length + 8) {
        const p = preemptionsOf(model, actions);
        if (
          best === null ||
          p < best.preemptions ||
          (p === best.preemptions && actions.length < best.actions.length)
        ) {
          best = {
            actions: actions.slice(),
            preemptions: p,
            outcome: replayOutcome(model, actions),
          };
        }
      }
    }
  }
  return {
    explored: opt.runs,
    violations,
    histogram: hist,
    states: opt.runs,
    steps,
    complete: false,
    counterexample: best,
  };
}

// ---- replay -----------------------------------------------------------------------

export class ReplayError extends Error {
  override name = "ReplayError";
}

/** Run a schedule from the initial state, checking each action is enabled when it is taken. */
export function replay(model: Model, actions: readonly number[]): Outcome {
  model.reset();
  const en: number[] = [];
  for (let i = 0; i < actions.length; i++) {
    const n = model.enabled(en);
    const act = actions[i];
    if (!en.slice(0, n).includes(act)) {
      const now = encodeSchedule(en.slice(0, n)) || "none";
      throw new ReplayError(
        `replay diverged at action ${i + 1}: ${encodeSchedule([act])} is not enabled (enabled: ${now})`,
      );
    }
    model.apply(act);
  }
  const left = model.enabled(en);
  if (left > 0) {
    throw new ReplayError(
      `replay ended after ${actions.length} actions with ${encodeSchedule(en.slice(0, left))} still enabled`,
    );
  }
  return model.outcome();
}

function replayOutcome(model: Model, actions: readonly number[]): Outcome {
  return replay(model, actions);
}
