// khugepaged's collapse_huge_page, one step at a time (mm/khugepaged.c about
// v6.1): K0..K11 as in MODEL.md section 3. K6 and K8 take one step per page so
// that a scheduler can interleave a walker inside their loops.

import {
  CTL,
  FRAME,
  FRAME_MAPPED,
  FRAME_NEW_HUGE,
  makeHugePmd,
  PMD_NONE,
  PMD_TABLE,
  PTE_NONE,
  pmdId,
  pmdKind,
  pteFrame,
  ptePresent,
  REGION,
} from "../memory/layout.js";
import type { Cpu } from "./cpu.js";
import type { Fix } from "./fixes.js";
import { allocFrame, releaseMapped } from "./frames.js";
import { ipiAcked, ipiSend } from "./irq.js";
import { BLOCKED, DONE, STEP } from "./steps.js";

export const COLLAPSE = {
  RUNNING: 0,
  COMMITTED: 1,
  /** K0: a pte missing or a page with extra references: not even tried */
  ABORTED_SCAN: 2,
  /** K6: a page was pinned after the pmd was cleared: K7 put the pmd back */
  ABORTED_ISOLATE: 3,
  /** K0: the pmd does not map a pte table (already huge) */
  NOT_TABLE: 4,
} as const;

export interface Collapse {
  /** index into `program`; program.length when done */
  pc: number;
  program: readonly number[];
  region: number;
  serial: number;
  oldPmd: number;
  table: number;
  hpage: number;
  /** page index inside the K6 and K8 loops */
  j: number;
  cleared: boolean;
  /** K6 found a pinned page: the next step is K7 */
  aborting: boolean;
  result: number;
  /** IPI targets of the broadcast in flight and the epochs their acks must reach */
  targets: Int32Array;
  epochs: Int32Array;
  nTargets: number;
}

/** The order of collapse's steps under a fix: a fix is data, this reads it. */
export function collapseProgram(fix: Fix): number[] {
  const ipi = fix.ipi === "none" ? [] : fix.ipiWait ? [STEP.K5, STEP.K5W] : [STEP.K5];
  const clear = [STEP.K4];
  const isolate = [STEP.K6];
  const middle = fix.isolateBeforeClear
    ? fix.ipiBeforeClear
      ? [...ipi, ...isolate, ...clear]
      : [...isolate, ...clear, ...ipi]
    : fix.ipiBeforeClear
      ? [...ipi, ...clear, ...isolate]
      : [...clear, ...ipi, ...isolate];
  return [STEP.K0, STEP.K1, STEP.K2, ...middle, STEP.K8, STEP.K9, STEP.K10, STEP.K11];
}

export function newCollapse(fix: Fix, cpus: number): Collapse {
  return {
    pc: 0,
    program: collapseProgram(fix),
    region: 0,
    serial: 0,
    oldPmd: 0,
    table: 0,
    hpage: -1,
    j: 0,
    cleared: false,
    aborting: false,
    result: COLLAPSE.RUNNING,
    targets: new Int32Array(cpus),
    epochs: new Int32Array(cpus),
    nTargets: 0,
  };
}

export function startCollapse(c: Collapse, region: number): void {
  c.pc = 0;
  c.region = region;
  c.serial = 0;
  c.hpage = -1;
  c.j = 0;
  c.cleared = false;
  c.aborting = false;
  c.result = COLLAPSE.RUNNING;
  c.nTargets = 0;
}

export function collapseDone(c: Collapse): boolean {
  return c.pc >= c.program.length;
}

/** The step collapse would run next (BLOCKED's step is K5W). */
export function collapseNext(c: Collapse): number {
  if (c.pc >= c.program.length) return DONE;
  return c.aborting ? STEP.K7 : c.program[c.pc];
}

function finish(c: Collapse, result: number): void {
  c.result = result;
  c.pc = c.program.length;
}

/**
 * Run collapse's next step. Returns the step that ran, BLOCKED when waiting
 * for IPI acks (nothing changed), or DONE when the collapse is over.
 */
export function collapseStep(cpu: Cpu, c: Collapse): number {
  if (c.pc >= c.program.length) return DONE;
  if (c.aborting) {
    abort(cpu, c);
    return STEP.K7;
  }
  const mem = cpu.mem;
  const ptes = mem.geo.ptes;
  const step = c.program[c.pc];
  switch (step) {
    case STEP.K0: {
      // Racy pre-scan: every pte present, no page with extra references.
      const pmd = mem.load(mem.pmd(c.region));
      if (pmdKind(pmd) !== PMD_TABLE) {
        cpu.trace(step, c.region, -1, -1, pmd);
        finish(c, COLLAPSE.NOT_TABLE);
        return step;
      }
      c.table = pmdId(pmd);
      let ok = true;
      for (let j = 0; j < ptes && ok; j++) {
        const pte = mem.load(mem.pte(c.table, j));
        if (!ptePresent(pte)) ok = false;
        else {
          const f = pteFrame(pte);
          ok = mem.load(mem.frame(f, FRAME.refcount)) === mem.load(mem.frame(f, FRAME.mapcount));
        }
      }
      cpu.trace(step, c.region, -1, -1, ok ? 1 : 0);
      if (!ok) {
        finish(c, COLLAPSE.ABORTED_SCAN);
        return step;
      }
      c.serial = Atomics.add(mem.i32, CTL.collapseSerial, 1) + 1;
      mem.store(mem.region(c.region, REGION.collapsing), c.serial);
      c.pc++;
      return step;
    }
    case STEP.K1:
      c.hpage = allocFrame(mem, FRAME_NEW_HUGE, c.region, -1, 0);
      cpu.trace(step, c.region, -1, c.hpage, 0);
      c.pc++;
      return step;
    case STEP.K2:
      // mmap_write_lock excludes faults and slow GUP, not GUP-fast: nothing to model.
      cpu.trace(step, c.region, -1, -1, 0);
      c.pc++;
      return step;
    case STEP.K4:
      // pmdp_huge_get_and_clear + flush_tlb_range. The flush itself waits for
      // nobody here: whether anyone waits for IRQ-off walkers is K5's business.
      c.oldPmd = Atomics.exchange(mem.i32, mem.pmd(c.region), PMD_NONE);
      c.cleared = true;
      cpu.trace(step, c.region, -1, -1, c.oldPmd);
      c.pc++;
      return step;
    case STEP.K5:
      sendIpis(cpu, c);
      cpu.trace(step, c.region, -1, -1, c.nTargets);
      c.pc++;
      return step;
    case STEP.K5W: {
      // Fix 1 closes the race here: no walker that read the pmd before K4 can
      // still be between G0 and G9 once every ack is in, so K6 sees its pins.
      for (let k = 0; k < c.nTargets; k++) {
        if (!ipiAcked(mem, c.targets[k], c.epochs[k])) return BLOCKED;
      }
      cpu.trace(step, c.region, -1, -1, c.nTargets);
      c.pc++;
      return step;
    }
    case STEP.K6: {
      const pte = mem.load(mem.pte(c.table, c.j));
      const present = ptePresent(pte);
      const f = present ? pteFrame(pte) : -1;
      const ref = present ? mem.load(mem.frame(f, FRAME.refcount)) : 0;
      const suitable = present && ref === mem.load(mem.frame(f, FRAME.mapcount));
      cpu.trace(step, c.region, c.j, f, ref);
      if (!suitable) {
        c.aborting = true;
        return step;
      }
      if (++c.j === ptes) {
        c.j = 0;
        c.pc++;
      }
      return step;
    }
    case STEP.K8: {
      // Copy, ptep_clear, release. A page pinned after K6 survives here,
      // unmapped: that is the stale page of the race.
      const pi = mem.pte(c.table, c.j);
      const f = pteFrame(mem.load(pi));
      mem.store(mem.frameData(c.hpage, c.j), mem.load(mem.frameData(f, 0)));
      mem.store(pi, PTE_NONE);
      releaseMapped(mem, f, c.serial);
      cpu.trace(step, c.region, c.j, f, c.serial);
      if (++c.j === ptes) {
        c.j = 0;
        c.pc++;
      }
      return step;
    }
    case STEP.K9:
      mem.store(mem.frame(c.hpage, FRAME.state), FRAME_MAPPED);
      mem.store(mem.frame(c.hpage, FRAME.mapcount), 1);
      cpu.trace(step, c.region, -1, c.hpage, 0);
      c.pc++;
      return step;
    case STEP.K10:
      // The old table is deposited (pgtable_trans_huge_deposit): it stays the region's.
      mem.store(mem.pmd(c.region), makeHugePmd(c.hpage));
      mem.store(mem.region(c.region, REGION.committed), c.serial);
      mem.store(mem.region(c.region, REGION.collapsing), 0);
      cpu.trace(step, c.region, -1, c.hpage, c.serial);
      c.pc++;
      return step;
    case STEP.K11:
      cpu.trace(step, c.region, -1, -1, 0);
      finish(c, c.result === COLLAPSE.RUNNING ? COLLAPSE.COMMITTED : c.result);
      return step;
    default:
      throw new Error(`collapseStep: no step ${step}`);
  }
}

/** K7: put the pmd back (same table, same value) and give the huge page back. */
function abort(cpu: Cpu, c: Collapse): void {
  const mem = cpu.mem;
  if (c.cleared) mem.store(mem.pmd(c.region), c.oldPmd);
  if (c.hpage >= 0) releaseMapped(mem, c.hpage, 0);
  mem.store(mem.region(c.region, REGION.collapsing), 0);
  c.aborting = false;
  cpu.trace(STEP.K7, c.region, -1, -1, c.oldPmd);
  finish(c, COLLAPSE.ABORTED_ISOLATE);
}

function sendIpis(cpu: Cpu, c: Collapse): void {
  const mem = cpu.mem;
  const cpus = mem.geo.cpus;
  // 'gup' and 'all' are the same set in this scenario: every CPU but the sender.
  let n = 0;
  for (let t = 0; t < cpus; t++) if (t !== cpu.id) c.targets[n++] = t;
  if (cpu.fix.ipiSkipOne && n > 0) {
    const skip = cpu.ipiBroadcasts % n;
    for (let k = skip; k < n - 1; k++) c.targets[k] = c.targets[k + 1];
    n--;
  }
  cpu.ipiBroadcasts++;
  for (let k = 0; k < n; k++) c.epochs[k] = ipiSend(mem, cpu.id, c.targets[k]);
  c.nTargets = n;
}
