// A one-thread lab for tests: the gup-vs-collapse scenario's page table, its
// mutator CPU and a GUP-fast CPU, driven step by step by hand.

import { type Collapse, collapseNext, collapseStep } from "../src/kernel/collapse.js";
import { Cpu } from "../src/kernel/cpu.js";
import { type GupWalk, gupFastStep, startWalk } from "../src/kernel/gup.js";
import { stepName } from "../src/kernel/steps.js";
import { Memory, STAT_OUTCOME_BASE } from "../src/memory/layout.js";
import { gupVsCollapse } from "../src/scenarios/gup-vs-collapse.js";
import { resolveFix } from "../src/scenarios/index.js";
import { outcomeIndex } from "../src/scenarios/scenario.js";

export interface Lab {
  mem: Memory;
  k: Cpu;
  g: Cpu;
  walk: GupWalk;
  collapse: Collapse;
  /** run the walker's next step, asserting its name */
  G: (name: string) => void;
  /** run the mutator's next step, asserting its name; returns what collapseStep returned */
  K: (name: string) => number;
  /** arm the mutator's next operation on region 0: 0 a collapse, 1 the split after it */
  op: (phase: number) => void;
  /** the walk's verdict as an outcome key, or "pending" */
  grade: () => string;
}

/** An outcome's index in the scenario (and its counter: STAT_OUTCOME_BASE + index). */
export const O = (key: string): number => outcomeIndex(gupVsCollapse, key);
export { STAT_OUTCOME_BASE };

/** A lab whose walker covers pages [first, first + count) (default: all of them). */
export function lab(fixName: string, ptes = 1, cpus = 2, first = 0, count = ptes): Lab {
  const s = gupVsCollapse;
  const fix = resolveFix(s, fixName);
  const frames = s.frames({ cpus, regions: 1, ptes, heldWalks: 2 });
  const mem = new Memory({ cpus, regions: 1, ptes, frames, traceRing: 256 });
  s.setup(mem);
  const k = new Cpu(mem, 0, fix);
  const g = new Cpu(mem, 1, fix);
  const walk = s.walker.create(ptes) as GupWalk;
  startWalk(walk, 0, first, count);
  const collapse = s.mutator.create(k) as Collapse;
  s.mutator.start(k, collapse, 0, 0);
  return {
    mem,
    k,
    g,
    walk,
    collapse,
    G(name) {
      const ran = stepName(walk.pc);
      if (ran !== name) throw new Error(`walker's next step is ${ran}, not ${name}`);
      gupFastStep(g, walk);
    },
    K(name) {
      const next = stepName(collapseNext(collapse));
      if (next !== name) throw new Error(`the mutator's next step is ${next}, not ${name}`);
      return collapseStep(k, collapse);
    },
    op(phase) {
      s.mutator.start(k, collapse, 0, phase);
    },
    grade() {
      const v = s.walker.grade(mem, walk, 1);
      return v.outcome < 0 ? "pending" : s.outcomes[v.outcome].key;
    },
  };
}

/** Collapse's steps for `ptes` pages, K0..K11 with no IPI (K8 copies every page, then K8F frees each). */
export function collapseSteps(ptes: number, middle: string[] = ["K4"]): string[] {
  const n = (s: string) => Array.from({ length: ptes }, () => s);
  return ["K0", "K1", "K2", ...middle, ...n("K6"), ...n("K8"), ...n("K8F"), "K9", "K10", "K11"];
}
