// What a race scenario declares, jcstress-style: its actors (a mutator CPU
// and GUP-fast walker CPUs, each a program of kernel steps from src/kernel/),
// its initial state, its graded outcomes and the oracle that tells them
// apart from memory alone, its fix variants and mutants, its delay points
// and how to draw its steps. Every driver (threads, explorer, bench, reports)
// is generic over this interface; a new scenario is a new file plus its
// mutator's steps in src/kernel/ (docs/scenarios.md).

import type { Cpu } from "../kernel/cpu.js";
import { type Fix, type FixDecl, parseFix } from "../kernel/fixes.js";
import type { IpiWait } from "../kernel/irq.js";
import type { Memory } from "../memory/layout.js";
import type { DelaySpec } from "../run/delay-spec.js";

export type Grade = "ACCEPTABLE" | "ACCEPTABLE_INTERESTING" | "FORBIDDEN";

/** What an outcome says about the run, for the generic summaries (bench, reports). */
export type OutcomeTag =
  | "pinned"
  | "backoff"
  | "fallback"
  | "race"
  | "committed"
  | "aborted"
  | "follow-up"
  | "undeclared";

export interface OutcomeDecl {
  key: string;
  grade: Grade;
  text: string;
  /** which actor's operation ends in it */
  actor: "walker" | "mutator";
  tag: OutcomeTag;
  /** seeing it shows the run reached the race window */
  window?: boolean;
}

/** The oracle's word on one walk, graded with its pins still held. */
export interface Verdict {
  /** index into the scenario's outcomes, or -1 when it cannot be decided yet (a mutator operation in flight) */
  outcome: number;
  /** the first wrong frame and its page index, -1 if none */
  frame: number;
  index: number;
  /** a race confirmed by data divergence (write through the mapping, read through the pin) */
  confirmed: boolean;
  /** for undeclared outcomes: what was seen */
  detail: string;
}

/** The mutator CPU's program: operations on one region at a time, each a sequence of steps. */
export interface MutatorProgram<Op extends IpiWait = IpiWait> {
  create(cpu: Cpu): Op;
  /**
   * Arm operation `phase` on a region: 0 is the trial's operation (what races
   * with the walkers), 1..phases-1 its follow-ups (lockstep runs them after the
   * round, freerun on later visits, the explorer right after phase 0).
   */
  start(cpu: Cpu, op: Op, region: number, phase: number): void;
  /** run the next step: its id, BLOCKED (waiting for IPI acks; the op is an IpiWait), or DONE */
  step(cpu: Cpu, op: Op): number;
  done(op: Op): boolean;
  /** the step it would run next (DONE when over) */
  next(op: Op): number;
  /** its next step would return BLOCKED (waiting for IPI acks): the explorer does not offer it */
  blocked(mem: Memory, op: Op): boolean;
  /**
   * While blocked: the CPU it waits for (an IPI target, a CPU not yet past a
   * quiescent state), or -1 once the next step can run. Absent: the op waits
   * for IPI acks only (firstUnacked).
   */
  waitingFor?(mem: Memory, op: Op): number;
  /** the outcome index of a finished operation, or -1 for a follow-up that had nothing to do */
  outcome(op: Op): number;
}

/** The walker CPUs' program: one GUP-fast call over a range of a region's pages. */
export interface WalkerProgram<W = unknown> {
  create(ptes: number): W;
  start(w: W, region: number, first: number, count: number): void;
  step(cpu: Cpu, w: W): number;
  done(w: W): boolean;
  next(w: W): number;
  /** grade a finished walk whose pins are still held: the oracle, from memory alone */
  grade(mem: Memory, w: W, writerId: number): Verdict;
  /** the caller is done with every page: unpin them */
  release(cpu: Cpu, w: W): void;
  /** pages the walk returned */
  pages(w: W): number;
  region(w: W): number;
  /** global clock of its first and last traced step */
  span(w: W): [number, number];
}

export interface MutantDecl {
  id: string;
  /** the weakened fix ("base~knob=value") the threads and the explorer run */
  fix: string;
  /** what was weakened, in the kernel's words */
  text: string;
  /** CPUs it needs (1 mutator + walkers); default 2 */
  cpus?: number;
  /**
   * Set when another protection of the same fix still closes the race in this
   * scenario: the explorer must find it clean, and this says why.
   */
  equivalent?: string;
  /**
   * The stress run that catches it, where the default lockstep one cannot:
   * its mode, regions, pins held, and delay points added to the defaults.
   */
  stress?: {
    mode?: "lockstep" | "freerun";
    regions?: number;
    holdPins?: number;
    delays?: readonly DelaySpec[];
  };
}

export interface Scenario {
  name: string;
  summary: string;
  /** column headings of the drawing */
  roles: { mutator: string; walker: string };
  fixes: readonly FixDecl[];
  mutants: readonly MutantDecl[];
  /**
   * Fix names replay strings may carry from before a rename: old name -> what
   * it ran (a declared fix or BASE~KNOB=VALUE). Replays only; --fix takes the new names.
   */
  renamedFixes?: Readonly<Record<string, string>>;
  /** every outcome; the oracle's anything-else is the one tagged "undeclared" (FORBIDDEN) */
  outcomes: readonly OutcomeDecl[];
  defaultDelays: readonly DelaySpec[];
  /** mutator operations per region and trial: the trial's, then its follow-ups */
  phases: number;
  /** mutator steps that begin an operation (to cut one out of a trace) */
  opFirstSteps: readonly number[];
  /** frames the pool needs (a multiple of ptes) */
  frames(g: { cpus: number; regions: number; ptes: number; heldWalks: number }): number;
  /**
   * Page tables in the pool (Geometry.tables), for a scenario whose tables are
   * not one per region (gup-vs-table-free); absent: one per region, no pool.
   */
  tables?(g: { regions: number; ptes: number }): number;
  /** the initial state (harness bookkeeping, before any CPU runs) */
  setup(mem: Memory): void;
  mutator: MutatorProgram;
  walker: WalkerProgram;
  /** one line for a traced step in the drawing */
  describe(step: {
    step: string;
    index: number;
    frame: number;
    value: number;
    text: string;
  }): string;
}

/** The oracle's anything-else: every scenario declares it last. */
export const UNDECLARED_OUTCOME: OutcomeDecl = {
  key: "undeclared",
  grade: "FORBIDDEN",
  actor: "walker",
  tag: "undeclared",
  text: "an outcome this scenario does not declare",
};

/** A verdict with no wrong frame: outcome -1 is "cannot be decided yet" (a mutator operation in flight). */
export function verdictOf(outcome: number, detail = ""): Verdict {
  return { outcome, frame: -1, index: -1, confirmed: false, detail };
}

/** Index of an outcome by key; throws for a key the scenario does not declare. */
export function outcomeIndex(s: { outcomes: readonly OutcomeDecl[] }, key: string): number {
  const i = s.outcomes.findIndex((o) => o.key === key);
  if (i < 0) throw new Error(`no outcome '${key}'`);
  return i;
}

/** A fix of a scenario, or a weakened one, or a mutant's id; throws an Error saying what is wrong. */
export function resolveFix(scenario: Scenario, name: string): Fix {
  const mutant = scenario.mutants.find((m) => m.id === name);
  const fix = parseFix(scenario.fixes, mutant?.fix ?? name);
  if (typeof fix === "string") throw new Error(fix);
  return fix;
}
