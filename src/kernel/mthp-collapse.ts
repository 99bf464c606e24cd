// khugepaged's collapse of a sub-range of a page table into an mTHP, one step
// at a time: the mutator of gup-vs-mthp-collapse (Nico Pache's mTHP collapse
// series, "khugepaged: add mTHP support", <20250819134205.622806-7-npache@redhat.com>
// and later versions up to <616de1a8-1cfd-40b8-b04f-7b324be40bfd@linux.dev>).
//
// collapse_huge_page with order < HPAGE_PMD_ORDER keeps the pmd collapse's
// first half: pmdp_collapse_flush detaches the WHOLE table (K4; every GUP-fast
// walk from now on sees no pmd), tlb_remove_table_sync_one (K5), isolate (K6)
// and copy (K8) the range's pages, then __collapse_huge_page_copy_succeeded
// clears and frees each of the range's ptes (K8F). It ends differently: no
// huge pmd. set_ptes maps the new folio in the range of the detached table
// (K10S, one pte per step), then smp_wmb and pmd_populate put the SAME table
// back (K10P): the pmd's value comes back, and only G7 can tell a walker that
// straddled the collapse (MODEL section 6, "What G6 really compares").
//
// The range is the last naturally aligned block of `mthpRange(ptes).n` pages
// (the largest power of two below the table's size) that fits the table.

import {
  CTL,
  FRAME,
  FRAME_MAPPED,
  FRAME_NEW_HUGE,
  makePte,
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
  allocFrames,
  extraRefs,
  makeFolio,
  putFolio,
  refcountSuitable,
  releaseMapping,
} from "./frames.js";
import { allAcked, flushBroadcast } from "./irq.js";
import { BLOCKED, DONE, STEP } from "./steps.js";

export const MTHP = {
  RUNNING: 0,
  /** the range maps the new folio, the same table is back (K11) */
  COMMITTED: 1,
  /** K0: a pte of the range missing or a page with extra references: not tried */
  ABORTED_SCAN: 2,
  /** K6: a page of the range was pinned after K4: K7 put the same table back */
  ABORTED_ISOLATE: 3,
  /** K0: the pmd does not map a pte table */
  NOT_TABLE: 4,
  /** K1: no free run of frames for the folio */
  ABORTED_ALLOC: 5,
  /** K8: copy_mc failed: K7 put the same table back */
  ABORTED_COPY: 6,
} as const;

/** The collapsed range of a table of `ptes` entries: its first page and its size. */
export function mthpRange(ptes: number): { first: number; n: number } {
  let n = 1;
  while (n * 2 < ptes) n *= 2;
  const first = Math.max(0, Math.floor((ptes - n) / n) * n);
  return { first, n };
}

export interface MthpCollapse {
  /** index into `steps`; steps.length when done */
  pc: number;
  /** the steps under this fix (fixed for the op's life) */
  steps: Int32Array;
  region: number;
  serial: number;
  oldPmd: number;
  table: number;
  /** the new mTHP folio's head frame, -1 if none */
  folio: number;
  /** the range [first, first + n) */
  first: number;
  n: number;
  /** page index inside the range, in the K6, K8, K8F and K10S loops */
  j: number;
  /** pages K0 and K6 check (n, or 1 under checkFirstPageOnly) */
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
  broadcasts: number;
}

/** The order of the steps under a fix: a fix is data, this reads it. */
export function mthpProgram(fix: Fix): number[] {
  const ipi = fix.ipi === "none" ? [] : fix.ipiWait ? [STEP.K5, STEP.K5W] : [STEP.K5];
  const middle = fix.isolateBeforeClear
    ? fix.ipiBeforeClear
      ? [...ipi, STEP.K6, STEP.K4]
      : [STEP.K6, STEP.K4, ...ipi]
    : fix.ipiBeforeClear
      ? [...ipi, STEP.K4, STEP.K6]
      : [STEP.K4, ...ipi, STEP.K6];
  // The kernel: copy, clear and free the old ptes, mark uptodate, set_ptes,
  // then pmd_populate. The knobs move the pmd_populate earlier.
  const install = fix.mthpPopulateBeforeClear
    ? [STEP.K10P, STEP.K8F, STEP.K9, STEP.K10S]
    : fix.mthpPopulateBeforeSetPtes
      ? [STEP.K8F, STEP.K9, STEP.K10P, STEP.K10S]
      : [STEP.K8F, STEP.K9, STEP.K10S, STEP.K10P];
  return [STEP.K0, STEP.K1, STEP.K2, ...middle, STEP.K8, ...install, STEP.K11];
}

export function newMthpCollapse(fix: Fix, cpus: number, ptes: number): MthpCollapse {
  const { first, n } = mthpRange(ptes);
  const steps = Int32Array.from(mthpProgram(fix));
  return {
    pc: steps.length,
    steps,
    region: 0,
    serial: 0,
    oldPmd: 0,
    table: 0,
    folio: -1,
    first,
    n,
    j: 0,
    checked: n,
    cleared: false,
    aborting: false,
    abortResult: MTHP.RUNNING,
    copyFails: fix.copyFails,
    result: MTHP.RUNNING,
    targets: new Int32Array(cpus),
    epochs: new Int32Array(cpus),
    nTargets: 0,
    skipOne: fix.ipiSkipOne,
    broadcasts: 0,
  };
}

/** Arm a collapse of region `region`'s range. */
export function startMthpCollapse(cpu: Cpu, c: MthpCollapse, region: number): void {
  c.pc = 0;
  c.region = region;
  c.serial = 0;
  c.folio = -1;
  c.j = 0;
  c.checked = cpu.fix.checkFirstPageOnly ? 1 : c.n;
  c.cleared = false;
  c.aborting = false;
  c.result = MTHP.RUNNING;
  c.nTargets = 0;
}

export function mthpDone(c: MthpCollapse): boolean {
  return c.pc >= c.steps.length;
}

/** The step the operation would run next (K7 while aborting; DONE when over). */
export function mthpNext(c: MthpCollapse): number {
  if (c.pc >= c.steps.length) return DONE;
  return c.aborting ? STEP.K7 : c.steps[c.pc];
}

function finish(c: MthpCollapse, result: number): void {
  c.result = result;
  c.pc = c.steps.length;
}

/** Next page of a per-page loop; at the end of the range, the next step. */
function nextPage(c: MthpCollapse, count: number): void {
  if (++c.j === count) {
    c.j = 0;
    c.pc++;
  }
}

/**
 * Run the operation's next step. Returns the step that ran, BLOCKED when
 * waiting for IPI acks (nothing changed), or DONE when the operation is over.
 */
export function mthpStep(cpu: Cpu, c: MthpCollapse): number {
  if (c.pc >= c.steps.length) return DONE;
  if (c.aborting) {
    abort(cpu, c);
    return STEP.K7;
  }
  const mem = cpu.mem;
  const step = c.steps[c.pc];
  const at = c.first + c.j;
  switch (step) {
    case STEP.K0: {
      // collapse_scan_pmd, for the range: every pte present, no folio with extra references.
      const pmd = mem.load(mem.pmd(c.region));
      if (pmdKind(pmd) !== PMD_TABLE) {
        cpu.trace(step, c.region, -1, -1, pmd);
        finish(c, MTHP.NOT_TABLE);
        return step;
      }
      c.table = pmdId(pmd);
      let ok = true;
      for (let j = 0; j < c.checked && ok; j++)
        ok = refcountSuitable(cpu.mem, mem.load(mem.pte(c.table, c.first + j)));
      cpu.trace(step, c.region, c.first, -1, ok ? 1 : 0);
      if (!ok) {
        finish(c, MTHP.ABORTED_SCAN);
        return step;
      }
      // A new operation serial (ghost: names who released a frame, who committed).
      c.serial = mem.load(CTL.opSerial) + 1;
      mem.store(mem.region(c.region, REGION.inFlight), c.serial);
      mem.store(CTL.opSerial, c.serial);
      c.pc++;
      return step;
    }
    case STEP.K1:
      // alloc_charge_folio(order): one folio of n pages, one reference (ours).
      c.folio = allocFrames(mem, c.n);
      cpu.trace(step, c.region, -1, c.folio, c.n);
      if (c.folio < 0) {
        mem.store(mem.region(c.region, REGION.inFlight), 0);
        finish(c, MTHP.ABORTED_ALLOC);
        return step;
      }
      makeFolio(mem, c.folio, c.n, FRAME_NEW_HUGE, c.region, c.first, 1, 0);
      c.pc++;
      return step;
    case STEP.K2:
      // mmap_write_lock (and the anon_vma lock): not GUP-fast.
      cpu.trace(step, c.region, -1, -1, 0);
      c.pc++;
      return step;
    case STEP.K4:
      // pmdp_collapse_flush: the whole table is detached, not just the range.
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
    case STEP.K5W:
      if (!allAcked(mem, c)) return BLOCKED;
      cpu.trace(step, c.region, -1, -1, c.nTargets);
      c.pc++;
      return step;
    case STEP.K6: {
      // __collapse_huge_page_isolate, one page of the range: pinned -> abort.
      const t = cpu.stamp();
      const pte = mem.load(mem.pte(c.table, at));
      const f = ptePresent(pte) ? pteFrame(pte) : -1;
      const ok = refcountSuitable(cpu.mem, pte);
      cpu.traceRead(t, step, c.region, at, f, f < 0 ? -1 : extraRefs(cpu.mem, f));
      if (!ok) {
        c.aborting = true;
        c.abortResult = MTHP.ABORTED_ISOLATE;
        return step;
      }
      nextPage(c, c.checked);
      return step;
    }
    case STEP.K8: {
      // __collapse_huge_page_copy: copy one page (copy_mc may fail). Nothing freed yet.
      const f = pteFrame(mem.load(mem.pte(c.table, at)));
      const fails = c.copyFails && c.j === c.n - 1;
      if (!fails) mem.store(mem.frameData(c.folio + c.j), mem.load(mem.frameData(f)));
      cpu.trace(step, c.region, at, f, fails ? 0 : 1);
      if (fails) {
        c.aborting = true;
        c.abortResult = MTHP.ABORTED_COPY;
        return step;
      }
      nextPage(c, c.n);
      return step;
    }
    case STEP.K8F: {
      // __collapse_huge_page_copy_succeeded: ptep_clear, remove rmap, free.
      const pi = mem.pte(c.table, at);
      const f = pteFrame(mem.load(pi));
      mem.store(pi, PTE_NONE);
      releaseMapping(mem, f, c.serial);
      cpu.trace(step, c.region, at, f, c.serial);
      nextPage(c, c.n);
      return step;
    }
    case STEP.K9:
      // __folio_mark_uptodate (smp_wmb); then, under the pmd lock,
      // folio_ref_add(nr - 1) and folio_add_new_anon_rmap: a reference and a
      // mapping per pte. Ghost states in plain stores, published by the
      // seq-cst refcount store.
      for (let j = 0; j < c.n; j++) mem.i32[mem.frame(c.folio + j, FRAME.state)] = FRAME_MAPPED;
      mem.store(mem.frame(c.folio, FRAME.mapcount), c.n);
      Atomics.add(mem.i32, mem.frame(c.folio, FRAME.refcount), c.n - 1);
      cpu.trace(step, c.region, -1, c.folio, 0);
      c.pc++;
      return step;
    case STEP.K10S:
      // set_ptes: one pte of the range, in the table (detached, in the kernel's order).
      mem.store(mem.pte(c.table, at), makePte(c.folio + c.j));
      cpu.trace(step, c.region, at, c.folio + c.j, 0);
      nextPage(c, c.n);
      return step;
    case STEP.K10P: {
      // smp_wmb, pmd_populate(mm, pmd, pmd_pgtable(_pmd)): the same table, the same value.
      const gen = mem.region(c.region, REGION.gen);
      mem.store(gen, mem.load(gen) + 1);
      mem.store(mem.pmd(c.region), c.oldPmd);
      cpu.trace(step, c.region, -1, -1, c.oldPmd);
      c.pc++;
      return step;
    }
    case STEP.K11:
      // mmap_write_unlock: the operation is over (ghost: committed).
      mem.store(mem.region(c.region, REGION.committed), c.serial);
      mem.store(mem.region(c.region, REGION.inFlight), 0);
      cpu.trace(step, c.region, -1, c.folio, c.serial);
      finish(c, MTHP.COMMITTED);
      return step;
    default:
      throw new Error(`mthpStep: no step ${step}`);
  }
}

/** K7: the same table back (same value), the new folio given back. */
function abort(cpu: Cpu, c: MthpCollapse): void {
  const mem = cpu.mem;
  if (c.cleared) {
    const gen = mem.region(c.region, REGION.gen);
    mem.store(gen, mem.load(gen) + 1);
    mem.store(mem.pmd(c.region), c.oldPmd);
  }
  if (c.folio >= 0) putFolio(mem, c.folio, 1);
  mem.store(mem.region(c.region, REGION.inFlight), 0);
  c.aborting = false;
  cpu.trace(STEP.K7, c.region, -1, -1, c.oldPmd);
  finish(c, c.abortResult);
}

/** tlb_remove_table_sync_one: every CPU but the sender ('gup' and 'all' are one set here). */
function sendIpis(cpu: Cpu, c: MthpCollapse): void {
  // The same broadcast as collapse's K5 ('gup' is mm_cpumask, 'all' every
  // online CPU, bystanders too), less what the platform or a mutant skips.
  flushBroadcast(
    cpu,
    c,
    cpu.fix.ipi,
    { pvFlush: cpu.fix.ipiPvFlush, skipOne: c.skipOne },
    c.broadcasts++,
  );
}
