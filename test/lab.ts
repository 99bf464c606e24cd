// A one-thread lab for tests: the shared page table, one collapse CPU and
// GUP-fast CPUs, driven step by step by hand.

import {
  type Collapse,
  collapseNext,
  collapseStep,
  newCollapse,
  startCollapse,
} from "../src/kernel/collapse.js";
import { Cpu } from "../src/kernel/cpu.js";
import { findFix } from "../src/kernel/fixes.js";
import { type GupWalk, gupFastStep, newWalk, startWalk } from "../src/kernel/gup.js";
import { stepName } from "../src/kernel/steps.js";
import { Memory } from "../src/memory/layout.js";
import { setupRegions } from "../src/scenarios/gup-vs-collapse.js";

export interface Lab {
  mem: Memory;
  k: Cpu;
  g: Cpu;
  walk: GupWalk;
  collapse: Collapse;
  /** run the walker's next step, asserting its name */
  G: (name: string) => void;
  /** run collapse's next step, asserting its name; returns what collapseStep returned */
  K: (name: string) => number;
}

export function lab(fixName: string, ptes = 1, cpus = 2): Lab {
  const fix = findFix(fixName);
  if (!fix) throw new Error(fixName);
  const mem = new Memory({ cpus, regions: 1, ptes, frames: 64, traceRing: 256 });
  setupRegions(mem);
  const k = new Cpu(mem, 0, fix);
  const g = new Cpu(mem, 1, fix);
  const walk = newWalk(ptes);
  startWalk(walk, 0, 0, ptes);
  const collapse = newCollapse(fix, cpus);
  startCollapse(collapse, 0);
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
      if (next !== name) throw new Error(`collapse's next step is ${next}, not ${name}`);
      return collapseStep(k, collapse);
    },
  };
}
