// khugepaged's collapse_huge_page, one step at a time (mm/khugepaged.c), and
// the THP split that follows it: the mutator of gup-vs-collapse.
//
// Collapse is K0..K11 as in docs/model.md, in the newer kernels' order
// (00f58104202c): K8 copies every page (copy_mc_user_highpage, which may
// fail: then K7 puts the same table back), then K8F clears and frees each pte
// (__collapse_huge_page_copy_succeeded). K6, K8 and K8F take one step per
// page so that a scheduler can interleave a walker inside their loops.
//
// The split (__split_huge_pmd_locked) is the follow-up: KS0 invalidates the
// huge pmd, KS withdraws the deposited table, maps the huge folio's subpages
// in it and pmd_populates the SAME table: the pmd value comes back.

import {
  CTL,
  FRAME,
  FRAME_MAPPED,
  FRAME_NEW_HUGE,
  makeHugePmd,
  makePte,
  makeTablePmd,
  PMD_HUGE,
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
import {
  allocBlock,
  extraRefs,
  makeFolio,
  putFolio,
  refcountSuitable,
  releaseMapping,
} from "./frames.js";
import { allAcked, flushBroadcast } from "./irq.js";
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
  /** K1: no free huge page (alloc_charge_hpage failed) */
  ABORTED_ALLOC: 5,
  /** K8: copy_mc failed: K7 put the same table back */
  ABORTED_COPY: 6,
  /** follow-up: the huge pmd was split back to the same table */
  SPLIT: 7,
  /** follow-up with nothing to do (the region is not huge) */
  IDLE: 8,
} as const;

/** Operation 0 on a region is a collapse; operation 1 is the split that follows it. */
export const PHASE_COLLAPSE = 0;
export const PHASE_SPLIT = 1;

export interface Collapse {
  /** index into `program`; program.length when done */
  pc: number;
  /** the steps of a collapse under this fix, and of a split (fixed for the op's life) */
  collapseSteps: Int32Array;
  splitSteps: Int32Array;
  /** steps of the operation in hand (phase 0: collapseSteps, else splitSteps) */
  len: number;
  phase: number;
  region: number;
  serial: number;
  oldPmd: number;
  table: number;
  hpage: number;
  /** page index inside the K6, K8 and K8F loops */
  j: number;
  /** pages K0 and K6 check (all, or 1 under checkFirstPageOnly) */
  checked: number;
  cleared: boolean;
  /** K6 found a pinned page, or K8's copy failed: the next step is K7 */
  aborting: boolean;
  abortResult: number;
  copyFails: boolean;
  result: number;
  /** the IPI broadcast in flight (IpiWait) */
  targets: Int32Array;
  epochs: Int32Array;
  nTargets: number;
  skipOne: boolean;
  /** kvm_flush_tlb_multi: the broadcast skips preempted targets (ipiPvFlush) */
  pvFlush: boolean;
  /** broadcasts sent: rotates the skipped target of ipiSkipOne */
  broadcasts: number;
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
  return [STEP.K0, STEP.K1, STEP.K2, ...middle, STEP.K8, STEP.K8F, STEP.K9, STEP.K10, STEP.K11];
}

const SPLIT_PROGRAM = [STEP.KS0, STEP.KS];

export function newCollapse(fix: Fix, cpus: number): Collapse {
  const collapseSteps = Int32Array.from(collapseProgram(fix));
  return {
    pc: 0,
    collapseSteps,
    splitSteps: Int32Array.from(SPLIT_PROGRAM),
    len: 0,
    phase: PHASE_COLLAPSE,
    region: 0,
    serial: 0,
    oldPmd: 0,
    table: 0,
    hpage: -1,
    j: 0,
    checked: 0,
    cleared: false,
    aborting: false,
    abortResult: COLLAPSE.RUNNING,
    copyFails: fix.copyFails,
    result: COLLAPSE.RUNNING,
    targets: new Int32Array(cpus),
    epochs: new Int32Array(cpus),
    nTargets: 0,
    skipOne: fix.ipiSkipOne,
    pvFlush: fix.ipiPvFlush,
    broadcasts: 0,
  };
}

/** Arm operation `phase` on region `region`: a collapse, or the split that follows one. */
export function startCollapse(cpu: Cpu, c: Collapse, region: number, phase: number): void {
  c.len = (phase === PHASE_COLLAPSE ? c.collapseSteps : c.splitSteps).length;
  c.pc = 0;
  c.phase = phase;
  c.region = region;
  c.serial = 0;
  c.hpage = -1;
  c.j = 0;
  c.checked = cpu.fix.checkFirstPageOnly ? 1 : cpu.mem.geo.ptes;
  c.cleared = false;
  c.aborting = false;
  c.result = COLLAPSE.RUNNING;
  c.nTargets = 0;
  // A split with nothing to split ends before its first step.
  if (phase !== PHASE_COLLAPSE && pmdKind(cpu.mem.load(cpu.mem.pmd(region))) !== PMD_HUGE) {
    finish(c, COLLAPSE.IDLE);
  }
}

export function collapseDone(c: Collapse): boolean {
  return c.pc >= c.len;
}

/** The step the operation would run next (K7 while aborting; DONE when over). */
export function collapseNext(c: Collapse): number {
  if (c.pc >= c.len) return DONE;
  return c.aborting ? STEP.K7 : programOf(c)[c.pc];
}

function programOf(c: Collapse): Int32Array {
  return c.phase === PHASE_COLLAPSE ? c.collapseSteps : c.splitSteps;
}

function finish(c: Collapse, result: number): void {
  c.result = result;
  c.pc = c.len;
}

/**
 * A new operation serial (ghost: names who released a frame and who
 * committed). The region is marked in flight before the serial moves on, so
 * that an oracle reading the serial, then the mark, then the page table, then
 * the serial again cannot miss an operation (only the mutator CPU writes both).
 */
function begin(cpu: Cpu, c: Collapse): void {
  const mem = cpu.mem;
  c.serial = mem.load(CTL.opSerial) + 1;
  mem.store(mem.region(c.region, REGION.inFlight), c.serial);
  mem.store(CTL.opSerial, c.serial);
}

/**
 * Run the operation's next step. Returns the step that ran, BLOCKED when
 * waiting for IPI acks (nothing changed), or DONE when the operation is over.
 */
export function collapseStep(cpu: Cpu, c: Collapse): number {
  if (c.pc >= c.len) return DONE;
  if (c.aborting) {
    abort(cpu, c);
    return STEP.K7;
  }
  const mem = cpu.mem;
  const ptes = mem.geo.ptes;
  const step = programOf(c)[c.pc];
  switch (step) {
    case STEP.K0: {
      // Racy pre-scan: every pte present, no folio with extra references.
      const pmd = mem.load(mem.pmd(c.region));
      if (pmdKind(pmd) !== PMD_TABLE) {
        cpu.trace(step, c.region, -1, -1, pmd);
        finish(c, COLLAPSE.NOT_TABLE);
        return step;
      }
      c.table = pmdId(pmd);
      let ok = true;
      for (let j = 0; j < c.checked && ok; j++)
        ok = refcountSuitable(cpu.mem, mem.load(mem.pte(c.table, j)));
      cpu.trace(step, c.region, -1, -1, ok ? 1 : 0);
      if (!ok) {
        finish(c, COLLAPSE.ABORTED_SCAN);
        return step;
      }
      begin(cpu, c);
      c.pc++;
      return step;
    }
    case STEP.K1:
      c.hpage = allocBlock(mem);
      cpu.trace(step, c.region, -1, c.hpage, 0);
      if (c.hpage < 0) {
        mem.store(mem.region(c.region, REGION.inFlight), 0);
        finish(c, COLLAPSE.ABORTED_ALLOC);
        return step;
      }
      makeFolio(mem, c.hpage, ptes, FRAME_NEW_HUGE, c.region, 0, 1, 0);
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
      if (!allAcked(mem, c)) return BLOCKED;
      cpu.trace(step, c.region, -1, -1, c.nTargets);
      c.pc++;
      return step;
    }
    case STEP.K6: {
      // __collapse_huge_page_isolate: the mutator's half of the ordering rule
      // (clear the pmd at K4, THEN check for pins).
      const t = cpu.stamp();
      const pte = mem.load(mem.pte(c.table, c.j));
      const f = ptePresent(pte) ? pteFrame(pte) : -1;
      const ok = refcountSuitable(cpu.mem, pte);
      cpu.traceRead(t, step, c.region, c.j, f, f < 0 ? -1 : extraRefs(cpu.mem, f));
      if (!ok) {
        c.aborting = true;
        c.abortResult = COLLAPSE.ABORTED_ISOLATE;
        return step;
      }
      if (++c.j === c.checked) {
        c.j = 0;
        c.pc++;
      }
      return step;
    }
    case STEP.K8: {
      // Copy one page (copy_mc_user_highpage). Nothing is freed yet.
      const f = pteFrame(mem.load(mem.pte(c.table, c.j)));
      const fails = c.copyFails && c.j === ptes - 1;
      if (!fails) mem.store(mem.frameData(c.hpage + c.j), mem.load(mem.frameData(f)));
      cpu.trace(step, c.region, c.j, f, fails ? 0 : 1);
      if (fails) {
        c.aborting = true;
        c.abortResult = COLLAPSE.ABORTED_COPY;
        return step;
      }
      if (++c.j === ptes) {
        c.j = 0;
        c.pc++;
      }
      return step;
    }
    case STEP.K8F: {
      // ptep_clear, page_remove_rmap, free: a page pinned after K6 survives
      // here, unmapped: that is the stale page of the race.
      const pi = mem.pte(c.table, c.j);
      const f = pteFrame(mem.load(pi));
      mem.store(pi, PTE_NONE);
      releaseMapping(mem, f, c.serial);
      cpu.trace(step, c.region, c.j, f, c.serial);
      if (++c.j === ptes) {
        c.j = 0;
        c.pc++;
      }
      return step;
    }
    case STEP.K9:
      // __SetPageUptodate + smp_wmb: the huge page is complete before it is visible.
      // Ghost states in plain stores: K10's seq-cst store of the pmd publishes them.
      for (let j = 0; j < ptes; j++) mem.i32[mem.frame(c.hpage + j, FRAME.state)] = FRAME_MAPPED;
      mem.store(mem.frame(c.hpage, FRAME.mapcount), 1);
      cpu.trace(step, c.region, -1, c.hpage, 0);
      c.pc++;
      return step;
    case STEP.K10:
      // The old table is deposited (pgtable_trans_huge_deposit): it stays the region's.
      mem.store(mem.pmd(c.region), makeHugePmd(c.hpage));
      mem.store(mem.region(c.region, REGION.committed), c.serial);
      mem.store(mem.region(c.region, REGION.inFlight), 0);
      cpu.trace(step, c.region, -1, c.hpage, c.serial);
      c.pc++;
      return step;
    case STEP.K11:
      cpu.trace(step, c.region, -1, -1, 0);
      finish(c, COLLAPSE.COMMITTED);
      return step;
    case STEP.KS0: {
      // pmdp_invalidate: walkers from now on see no huge pmd (the slow path).
      begin(cpu, c);
      c.oldPmd = Atomics.exchange(mem.i32, mem.pmd(c.region), PMD_NONE);
      c.hpage = pmdId(c.oldPmd);
      cpu.trace(step, c.region, -1, c.hpage, c.oldPmd);
      c.pc++;
      return step;
    }
    case STEP.KS: {
      // Withdraw the deposited table (the region's own), map every subpage in
      // it (each pte mapping holds a reference on the folio), pmd_populate.
      const h = c.hpage;
      const table = c.region;
      for (let j = 0; j < ptes; j++) {
        mem.store(mem.frame(h + j, FRAME.region), c.region);
        mem.store(mem.frame(h + j, FRAME.index), j);
        mem.store(mem.pte(table, j), makePte(h + j));
      }
      mem.store(mem.frame(h, FRAME.mapcount), ptes);
      Atomics.add(mem.i32, mem.frame(h, FRAME.refcount), ptes - 1);
      const gen = mem.region(c.region, REGION.gen);
      mem.store(gen, mem.load(gen) + 1);
      mem.store(mem.pmd(c.region), makeTablePmd(table));
      mem.store(mem.region(c.region, REGION.committed), c.serial);
      mem.store(mem.region(c.region, REGION.inFlight), 0);
      cpu.trace(step, c.region, -1, h, makeTablePmd(table));
      finish(c, COLLAPSE.SPLIT);
      return step;
    }
    default:
      throw new Error(`collapseStep: no step ${step}`);
  }
}

/** K7: put the pmd back (same table, same value) and give the huge page back. */
function abort(cpu: Cpu, c: Collapse): void {
  const mem = cpu.mem;
  if (c.cleared) mem.store(mem.pmd(c.region), c.oldPmd);
  if (c.hpage >= 0) putFolio(mem, c.hpage, 1);
  mem.store(mem.region(c.region, REGION.inFlight), 0);
  c.aborting = false;
  cpu.trace(STEP.K7, c.region, -1, -1, c.oldPmd);
  finish(c, c.abortResult);
}

function sendIpis(cpu: Cpu, c: Collapse): void {
  // 'gup' is mm_cpumask (the walkers), 'all' every online CPU: bystanders
  // too; less those a KVM PV flush skips (preempted) or a mutant drops.
  flushBroadcast(cpu, c, cpu.fix.ipi, { pvFlush: c.pvFlush, skipOne: c.skipOne }, c.broadcasts++);
}
