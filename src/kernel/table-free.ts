// The mutator of gup-vs-table-free: paths that make a page table unreachable
// and free it, one step at a time (MODEL.md section 6, last part; 2ba99c5e0881).
//
//   phase 0, THP collapse then zap: T0 mmap_write_lock, T1 pmdp_collapse_flush,
//     [sync], T6 ptes cleared, the table deposited (ppc radix: non-PTE words
//     written into it), huge pmd set; T7 zap_huge_pmd, T8 zap_deposited_table
//     (withdraw), T4 pte_free at once, T5 due RCU callbacks, then the table
//     reused by another mm
//   phase 1, refault: TP the other mm unmaps, due RCU callbacks, pte_alloc +
//     pmd_populate for the region
//   phase 2, retract (pre-2023 collapse_and_free_pmd / retract_page_tables):
//     T0, T1 pmdp_collapse_flush, [sync], T4 pte_free, T5 reused by another mm
//   phase 3, refault (as phase 1)
//
// [sync] is what the fix asks for: the flush's own IPI (x86: to mm_cpumask,
// waited for), tlb_remove_table_sync_one (T2, T2W: an IPI to every other
// CPU, waited for), or synchronize_rcu (T3, T3W); with pte_free_defer T4 only
// queues the table, and the first T5 or TP after its grace period frees it. A walker
// that read the pmd before T1 and is still between G0 and G9 must not read
// the table once it is scribbled (T6), freed (T4) or reused (T5).

import {
  allCpus,
  FRAME,
  FRAME_MAPPED,
  type Memory,
  makeHugePmd,
  makePte,
  makeTablePmd,
  PMD_NONE,
  PMD_TABLE,
  PTE_NONE,
  pmdId,
  pmdKind,
  pteFrame,
  ptePresent,
  TABLE_DEPOSITED,
  TABLE_OWNER_OTHER,
  TABLE_PENDING,
  TABLE_SCRIBBLED,
  TABLE_USED,
} from "../memory/layout.js";
import type { Cpu } from "./cpu.js";
import type { Fix } from "./fixes.js";
import { allocBlock, makeFolio, putFolio, releaseMapping } from "./frames.js";
import { allAcked, firstUnacked, ipiBroadcast, ipiTargetsOf } from "./irq.js";
import { BLOCKED, DONE, STEP } from "./steps.js";
import { gpStart, gpWaitingFor, pteAlloc, pteFree, tableGhost } from "./tables.js";

export const TF_PHASES = 4;
export const PHASE = { COLLAPSE_ZAP: 0, REFAULT: 1, RETRACT: 2, REFAULT2: 3 } as const;

/** How an operation ended. */
export const TF = {
  RUNNING: 0,
  /** phase 0 or 2: the table freed at once (and handed to another mm) */
  FREED: 1,
  /** phase 0 or 2: the table queued for pte_free_defer */
  DEFERRED: 2,
  /** phase 1 or 3: the region faulted back in (a table from the pool) */
  REFAULT: 3,
  /** phase 0: no free huge page, the table put back */
  ABORTED: 4,
  /** nothing to do (the region is not in the state the phase needs) */
  IDLE: 5,
} as const;

/** Non-PTE words a ppc radix deposit writes at the start of the table (a list_head: two pointers). */
export const SCRIBBLE_WORDS = 2;

export interface TableOp {
  pc: number;
  /** every phase's steps, back to back; phase p is [starts[p], starts[p + 1]) */
  programs: Int32Array;
  starts: Int32Array;
  end: number;
  phase: number;
  region: number;
  oldPmd: number;
  /** the table this operation detached, withdrew or freed */
  table: number;
  hpage: number;
  freed: number;
  result: number;
  /** per region: the deposited table (pgtable_trans_huge_deposit), -1 if none */
  deposit: Int32Array;
  /** per region: the table and frames the other mm got at T5, -1 if none */
  other: Int32Array;
  otherBase: Int32Array;
  /** synchronize_rcu's snapshot of every CPU's interrupt counter */
  gpSnap: Int32Array;
  /** pte_free_defer's queue: tables, and each one's snapshot (allCpus words) */
  pend: Int32Array;
  pendSnap: Int32Array;
  nPend: number;
  /** the mutator's CPU, and whether its grace periods wait (the fix's gpWait) */
  self: number;
  gpWait: boolean;
  /** the IPI broadcast in flight (IpiWait) */
  targets: Int32Array;
  epochs: Int32Array;
  nTargets: number;
}

/** The steps of each phase under a fix: a fix is data, this reads it. */
export function tableFreePrograms(fix: Fix): number[][] {
  const flush = fix.flushIpi === "none" ? [STEP.T1] : [STEP.T1, STEP.T1W];
  const sync = fix.ipi === "none" ? [] : fix.ipiWait ? [STEP.T2, STEP.T2W] : [STEP.T2];
  const gp = fix.tableFree === "sync-rcu" ? [STEP.T3, STEP.T3W] : [];
  const detach = [
    STEP.T0,
    ...(fix.ipiBeforeClear ? [...sync, ...flush, ...gp] : [...flush, ...sync, ...gp]),
  ];
  return [
    [...detach, STEP.T6, STEP.T7, STEP.T8, STEP.T4, STEP.T5],
    [STEP.TP],
    [...detach, STEP.T4, STEP.T5],
    [STEP.TP],
  ];
}

export function newTableOp(cpu: Cpu): TableOp {
  const mem = cpu.mem;
  const all = allCpus(mem.geo);
  const progs = tableFreePrograms(cpu.fix);
  const starts = new Int32Array(progs.length + 1);
  for (let p = 0; p < progs.length; p++) starts[p + 1] = starts[p] + progs[p].length;
  const regions = mem.geo.regions;
  return {
    pc: 0,
    programs: Int32Array.from(progs.flat()),
    starts,
    end: 0,
    phase: 0,
    region: 0,
    oldPmd: 0,
    table: -1,
    hpage: -1,
    freed: 0,
    result: TF.RUNNING,
    deposit: new Int32Array(regions).fill(-1),
    other: new Int32Array(regions).fill(-1),
    otherBase: new Int32Array(regions).fill(-1),
    gpSnap: new Int32Array(all),
    pend: new Int32Array(mem.tables),
    pendSnap: new Int32Array(mem.tables * all),
    nPend: 0,
    self: cpu.id,
    gpWait: cpu.fix.gpWait,
    targets: new Int32Array(all),
    epochs: new Int32Array(all),
    nTargets: 0,
  };
}

/** Arm phase `phase` on `region`; a phase with nothing to do ends before its first step. */
export function startTableOp(cpu: Cpu, op: TableOp, region: number, phase: number): void {
  const mem = cpu.mem;
  op.phase = phase;
  op.region = region;
  op.pc = op.starts[phase];
  op.end = op.starts[phase + 1];
  op.table = -1;
  op.hpage = -1;
  op.freed = 0;
  op.nTargets = 0;
  op.result = TF.RUNNING;
  const kind = pmdKind(mem.load(mem.pmd(region)));
  if ((phase === PHASE.RETRACT || phase === PHASE.COLLAPSE_ZAP) && kind !== PMD_TABLE)
    finish(op, TF.IDLE);
}

export function tableOpDone(op: TableOp): boolean {
  return op.pc >= op.end;
}

export function tableOpNext(op: TableOp): number {
  return op.pc >= op.end ? DONE : op.programs[op.pc];
}

/** The CPU the next step waits for (IPI ack or quiescent state), or -1 when it can run. */
export function tableOpWaitingFor(mem: Memory, op: TableOp): number {
  const next = tableOpNext(op);
  if (next === STEP.T1W || next === STEP.T2W) return firstUnacked(mem, op);
  if (next === STEP.T3W) return gpWaitingFor(mem, op.self, op.gpSnap, 0, op.gpWait);
  return -1;
}

function finish(op: TableOp, result: number): void {
  op.result = result;
  op.pc = op.end;
}

/** The data word a region's page j holds (file data: the same in every mapping of it). */
export function pageData(region: number, j: number): number {
  return ((region & 0x7fff) << 8) + j;
}

/** Run the next step: its id, BLOCKED (waiting for acks or a grace period), or DONE. */
export function tableOpStep(cpu: Cpu, op: TableOp): number {
  if (op.pc >= op.end) return DONE;
  const mem = cpu.mem;
  const fix = cpu.fix;
  const ptes = mem.geo.ptes;
  const r = op.region;
  const step = op.programs[op.pc];
  switch (step) {
    case STEP.T0:
      // The locks the kernel takes here exclude faults and slow GUP, not GUP-fast: nothing to model.
      cpu.trace(step, r, -1, -1, 0);
      break;
    case STEP.T1:
      // pmdp_collapse_flush: the table is unreachable from now on, but a
      // walker that read the pmd before may still be reading it.
      op.oldPmd = Atomics.exchange(mem.i32, mem.pmd(r), PMD_NONE);
      op.table = pmdId(op.oldPmd);
      if (fix.flushIpi !== "none")
        ipiBroadcast(cpu, op, ipiTargetsOf(mem, cpu.id, fix.flushIpi, op.targets));
      cpu.trace(step, r, -1, -1, op.table);
      break;
    case STEP.T1W:
    case STEP.T2W:
      // No walker that read the pmd before T1 is between G0 and G9 once every ack is in.
      if (!allAcked(mem, op)) return BLOCKED;
      cpu.trace(step, r, -1, -1, op.nTargets);
      break;
    case STEP.T2:
      ipiBroadcast(cpu, op, ipiTargetsOf(mem, cpu.id, fix.ipi, op.targets));
      cpu.trace(step, r, -1, -1, op.nTargets);
      break;
    case STEP.T3:
      gpStart(mem, cpu.id, op.gpSnap, 0);
      cpu.trace(step, r, -1, -1, 0);
      break;
    case STEP.T3W:
      if (gpWaitingFor(mem, cpu.id, op.gpSnap, 0, op.gpWait) >= 0) return BLOCKED;
      cpu.trace(step, r, -1, -1, 0);
      break;
    case STEP.T4: {
      const t = op.table;
      if (fix.tableFree === "defer") {
        // pte_free_defer: a grace period starts now; a later T5 or TP frees the table after it.
        const k = op.nPend++;
        op.pend[k] = t;
        gpStart(mem, cpu.id, op.pendSnap, k * op.gpSnap.length);
        tableGhost(mem, t, TABLE_PENDING);
        op.result = TF.DEFERRED;
      } else {
        pteFree(mem, t);
        op.result = TF.FREED;
      }
      cpu.trace(step, r, -1, -1, t);
      break;
    }
    case STEP.T5: {
      // RCU callbacks that are due run first; then another mm faults and
      // needs a table: it gets the one freed last.
      const freed = rcuCallbacks(cpu, op);
      const t = pteAlloc(mem, TABLE_OWNER_OTHER);
      op.other[r] = t;
      op.otherBase[r] = -1;
      if (t >= 0) {
        const base = allocBlock(mem);
        op.otherBase[r] = base;
        if (base >= 0) {
          for (let j = 0; j < ptes; j++) {
            makeFolio(mem, base + j, 1, FRAME_MAPPED, TABLE_OWNER_OTHER, j, 1, 1);
            mem.store(mem.frameData(base + j), pageData(TABLE_OWNER_OTHER, j));
            mem.store(mem.pte(t, j), makePte(base + j));
          }
        }
      }
      cpu.trace(step, r, freed, -1, t);
      break;
    }
    case STEP.TP: {
      // The other mm unmaps (its table freed at once: nobody walks it here),
      // due RCU callbacks run, and the region faults back in: a table from
      // the pool, its pages from the page cache.
      otherUnmap(cpu, op);
      rcuCallbacks(cpu, op);
      let t = -1;
      if (mem.load(mem.pmd(r)) === PMD_NONE) {
        t = pteAlloc(mem, r);
        if (t >= 0) {
          for (let j = 0; j < ptes; j++) mem.store(mem.pte(t, j), makePte(r * ptes + j));
          mem.store(mem.pmd(r), makeTablePmd(t));
          op.result = TF.REFAULT;
        }
      }
      cpu.trace(step, r, -1, -1, t);
      break;
    }
    case STEP.T6: {
      // Collapse into a THP: the ptes are cleared, the table deposited, the huge pmd set.
      const t = op.table;
      const h = allocBlock(mem);
      if (h < 0) {
        mem.store(mem.pmd(r), op.oldPmd);
        cpu.trace(step, r, -1, -1, -1);
        finish(op, TF.ABORTED);
        return step;
      }
      makeFolio(mem, h, ptes, FRAME_MAPPED, r, 0, 1, 1);
      for (let j = 0; j < ptes; j++) {
        mem.store(mem.frameData(h + j), pageData(r, j));
        mem.store(mem.pte(t, j), PTE_NONE);
      }
      op.deposit[r] = t;
      tableGhost(mem, t, TABLE_DEPOSITED);
      if (fix.depositScribble) {
        // ppc radix: the deposit keeps a list_head in the table's first words.
        for (let j = 0; j < Math.min(SCRIBBLE_WORDS, ptes); j++)
          mem.store(mem.pte(t, j), makePte(h + ((j + 1) % ptes)));
        tableGhost(mem, t, TABLE_SCRIBBLED);
      }
      mem.store(mem.pmd(r), makeHugePmd(h));
      cpu.trace(step, r, -1, h, t);
      break;
    }
    case STEP.T7: {
      op.oldPmd = Atomics.exchange(mem.i32, mem.pmd(r), PMD_NONE);
      op.hpage = pmdId(op.oldPmd);
      cpu.trace(step, r, -1, op.hpage, op.oldPmd);
      break;
    }
    case STEP.T8: {
      // zap_deposited_table: withdraw (ppc radix clears its list words), then T4 frees it.
      const t = op.deposit[r];
      op.deposit[r] = -1;
      op.table = t;
      if (fix.depositScribble)
        for (let j = 0; j < Math.min(SCRIBBLE_WORDS, ptes); j++) mem.store(mem.pte(t, j), PTE_NONE);
      tableGhost(mem, t, TABLE_USED);
      mem.store(mem.frame(op.hpage, FRAME.mapcount), 0);
      putFolio(mem, op.hpage, 1);
      cpu.trace(step, r, -1, op.hpage, t);
      break;
    }
    default:
      throw new Error(`tableOpStep: no step ${step}`);
  }
  op.pc++;
  if (op.pc >= op.end && op.result === TF.RUNNING) op.result = TF.IDLE;
  return step;
}

/** RCU callbacks: every deferred table whose grace period is over is freed. Returns how many. */
function rcuCallbacks(cpu: Cpu, op: TableOp): number {
  const mem = cpu.mem;
  const all = op.gpSnap.length;
  let freed = 0;
  for (let k = 0; k < op.nPend; ) {
    if (gpWaitingFor(mem, cpu.id, op.pendSnap, k * all, op.gpWait) >= 0) {
      k++;
      continue;
    }
    pteFree(mem, op.pend[k]);
    freed++;
    const last = --op.nPend;
    op.pend[k] = op.pend[last];
    op.pendSnap.copyWithin(k * all, last * all, (last + 1) * all);
  }
  return freed;
}

/** The other mm unmaps the region's reuse: its pages and its table freed. */
function otherUnmap(cpu: Cpu, op: TableOp): void {
  const mem = cpu.mem;
  const r = op.region;
  const t = op.other[r];
  if (t >= 0) {
    for (let j = 0; j < mem.geo.ptes; j++) {
      const pi = mem.pte(t, j);
      const pte = mem.load(pi);
      mem.store(pi, PTE_NONE);
      if (ptePresent(pte)) releaseMapping(mem, pteFrame(pte), 0);
    }
    pteFree(mem, t);
  }
  op.other[r] = -1;
}
