// THP split, one step at a time: the mutator of gup-vs-split (c24d37322548,
// Jann Horn 2021). A region starts as a pte-mapped THP (its pmd split
// earlier, as after an mprotect or munmap of part of it). The split
// (mm/huge_memory.c split_huge_page_to_list -> __split_huge_page, about v5.x):
//
//   S0  folio_get + folio_lock: the splitter's own reference
//   S1  unmap_folio: every pte -> migration entry; each mapping's ref dropped
//   S2  the unmap's TLB flush (an IPI broadcast, or none), S2W its wait
//   S3  folio_ref_freeze(folio, 1): fails when someone else holds a reference
//       (a GUP pin): SA remaps the same subpages and the split is abandoned
//   S4  __split_huge_page_tail: every tail's compound head rewritten to itself
//   S5  page_ref_unfreeze: every former subpage a page of its own
//   S6  remap_page: the SAME subpages back at the SAME ptes (same pte values)
//   S7  unlock, put the splitter's reference on each page
//
// Then the process frees the former head: MADV_DONTNEED of page 0, a zap
// under an mmu_gather (mm/memory.c zap_pte_range, tlb_finish_mmu;
// mm/mmu_gather.c tlb_flush_mmu):
//
//   S8  zap_pte_range: ptep_get_and_clear, page_remove_rmap, and
//       __tlb_remove_page: the page is gathered, the mapping's reference
//       still held by the gather
//   S8F tlb_flush_mmu_tlbonly: the zap's TLB flush under the same policy as
//       S2 (an IPI broadcast, a KVM PV flush, or none), S8W its wait
//   S8R tlb_batch_pages_flush: the gathered page's reference put; the former
//       head, unpinned, is freed
//   S9  the page allocator hands that frame out again: an order-0 page of
//       another allocation (refcount 1)
//
// A walker that read the head before S4 and grabs it after S9 holds a
// reference on another allocation's page; S6 restored the pte it read, so G7
// passes. Where the flush IPI waits (x86 bare metal), a walker that read
// page 0's pte before S8 has left its IRQ-off section before S8R frees the
// page, so it cannot grab a reused frame even without G7; on arm64 (no IPI)
// and through a KVM PV flush that skips a preempted vCPU it can. The
// follow-up operation zaps the region and refaults a fresh THP under a huge
// pmd (SF), then splits that pmd (SP, __split_huge_pmd: the deposited table
// gets a pte per subpage), so that every trial starts from a pte-mapped THP,
// and walkers between SF and SP take the huge-pmd leaf path.

import {
  CTL,
  FRAME,
  FRAME_FREE,
  FRAME_MAPPED,
  FRAME_RELEASED,
  isMigrationPte,
  type Memory,
  makeHugePmd,
  makeMigrationPte,
  makePte,
  makeTablePmd,
  PMD_HUGE,
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
import { allocBlock, headOf, makeFolio, putFolio, releaseMapping } from "./frames.js";
import { allAcked, flushBroadcast } from "./irq.js";
import { BLOCKED, DONE, STEP } from "./steps.js";

export const SPLIT = {
  RUNNING: 0,
  /** every step ran: the folio is small pages, the former head reused or kept */
  SPLIT: 1,
  /** S3: the folio had an extra reference (a pin): remapped whole (SA) */
  ABORTED_PIN: 2,
  /** the pmd was not huge: nothing to split */
  IDLE: 3,
  /** follow-up: a fresh THP faulted in (and its pmd split, SP) */
  REFAULTED: 4,
  /** follow-up: no free huge page; the region stays unmapped until the next refault */
  REFAULT_NO_MEMORY: 5,
} as const;

/** Operation 0 on a region is the split; operation 1 the refault that follows it. */
export const PHASE_SPLIT_OP = 0;
export const PHASE_REFAULT = 1;

export interface Split {
  pc: number;
  splitSteps: Int32Array;
  followSteps: Int32Array;
  len: number;
  phase: number;
  region: number;
  serial: number;
  /** the folio being split (its head) */
  folio: number;
  aborting: boolean;
  result: number;
  /** the IPI broadcast in flight (IpiWait) */
  targets: Int32Array;
  epochs: Int32Array;
  nTargets: number;
  skipOne: boolean;
  pvFlush: boolean;
  broadcasts: number;
  /** the folio S8's zap gathered (the mapping's reference it holds until S8R), -1 if none */
  gathered: number;
}

/**
 * The split's steps under a fix: each flush IPI (and its wait) only where
 * the fix sends one; the unmap's (S2) and the zap's (S8F) follow one policy.
 */
export function splitProgram(fix: Fix): number[] {
  const flush = (send: number, wait: number) =>
    fix.ipi === "none" ? [] : fix.ipiWait ? [send, wait] : [send];
  return [
    STEP.S0,
    STEP.S1,
    ...flush(STEP.S2, STEP.S2W),
    STEP.S3,
    STEP.S4,
    STEP.S5,
    STEP.S6,
    STEP.S7,
    STEP.S8,
    ...flush(STEP.S8F, STEP.S8W),
    STEP.S8R,
    STEP.S9,
  ];
}

export function newSplit(fix: Fix, cpus: number): Split {
  return {
    pc: 0,
    splitSteps: Int32Array.from(splitProgram(fix)),
    followSteps: Int32Array.from([STEP.SF, STEP.SP]),
    len: 0,
    phase: PHASE_SPLIT_OP,
    region: 0,
    serial: 0,
    folio: -1,
    aborting: false,
    result: SPLIT.RUNNING,
    targets: new Int32Array(cpus),
    epochs: new Int32Array(cpus),
    nTargets: 0,
    skipOne: fix.ipiSkipOne,
    pvFlush: fix.ipiPvFlush,
    broadcasts: 0,
    gathered: -1,
  };
}

export function startSplit(cpu: Cpu, s: Split, region: number, phase: number): void {
  s.phase = phase;
  s.region = region;
  s.pc = 0;
  s.serial = 0;
  s.folio = -1;
  s.aborting = false;
  s.result = SPLIT.RUNNING;
  s.nTargets = 0;
  s.gathered = -1;
  s.len = (phase === PHASE_SPLIT_OP ? s.splitSteps : s.followSteps).length;
  if (phase === PHASE_SPLIT_OP) {
    // split_huge_page needs a pte-mapped THP: page 0 present, its folio compound.
    const mem = cpu.mem;
    const pmd = mem.load(mem.pmd(region));
    const pte = pmdKind(pmd) === PMD_TABLE ? mem.load(mem.pte(pmdId(pmd), 0)) : PTE_NONE;
    const h = ptePresent(pte) ? mem.load(mem.frame(pteFrame(pte), FRAME.head)) : -1;
    if (h < 0 || mem.load(mem.frame(h, FRAME.order)) <= 1) finish(s, SPLIT.IDLE);
    else s.folio = h;
  }
}

export function splitDone(s: Split): boolean {
  return s.pc >= s.len;
}

export function splitNext(s: Split): number {
  if (s.pc >= s.len) return DONE;
  if (s.aborting) return STEP.SA;
  return (s.phase === PHASE_SPLIT_OP ? s.splitSteps : s.followSteps)[s.pc];
}

function finish(s: Split, result: number): void {
  s.result = result;
  s.pc = s.len;
}

/** A new operation serial, the region marked in flight first (ghost, as collapse's begin). */
function begin(cpu: Cpu, s: Split): void {
  const mem = cpu.mem;
  s.serial = mem.load(CTL.opSerial) + 1;
  mem.store(mem.region(s.region, REGION.inFlight), s.serial);
  mem.store(CTL.opSerial, s.serial);
}

function commit(cpu: Cpu, s: Split): void {
  const mem = cpu.mem;
  mem.store(mem.region(s.region, REGION.committed), s.serial);
  mem.store(mem.region(s.region, REGION.inFlight), 0);
}

/** Run the operation's next step; returns the step, BLOCKED while acks are out, DONE when over. */
export function splitStep(cpu: Cpu, s: Split): number {
  if (s.pc >= s.len) return DONE;
  const mem = cpu.mem;
  const n = mem.geo.ptes;
  const r = s.region;
  const h = s.folio;
  if (s.aborting) {
    // Freeze failed: remove_migration_ptes with the folio still whole, put the ref.
    for (let j = 0; j < n; j++) mapSubpage(cpu, h + j, r, j, h);
    putFolio(mem, h, 1);
    commit(cpu, s);
    cpu.trace(STEP.SA, r, -1, h, 0);
    s.aborting = false;
    finish(s, SPLIT.ABORTED_PIN);
    return STEP.SA;
  }
  if (s.phase !== PHASE_SPLIT_OP) return followUp(cpu, s);
  const step = s.splitSteps[s.pc];
  switch (step) {
    case STEP.S0:
      begin(cpu, s);
      Atomics.add(mem.i32, mem.frame(h, FRAME.refcount), 1);
      cpu.trace(step, r, -1, h, 0);
      break;
    case STEP.S1:
      // try_to_migrate_one per pte: migration entry, page_remove_rmap, folio_put.
      for (let j = 0; j < n; j++) {
        mem.store(mem.pte(r, j), makeMigrationPte(h + j));
        Atomics.sub(mem.i32, mem.frame(h, FRAME.mapcount), 1);
        Atomics.sub(mem.i32, mem.frame(h, FRAME.refcount), 1);
      }
      cpu.trace(step, r, -1, h, 0);
      break;
    case STEP.S2:
    case STEP.S8F:
      // S2: the unmap's flush (try_to_migrate's); S8F: the zap's
      // (tlb_flush_mmu_tlbonly), under the same policy.
      flushBroadcast(
        cpu,
        s,
        cpu.fix.ipi,
        { pvFlush: s.pvFlush, skipOne: s.skipOne },
        s.broadcasts++,
      );
      cpu.trace(step, r, -1, -1, s.nTargets);
      break;
    case STEP.S2W:
    case STEP.S8W:
      // The waiting flush (x86 bare metal) closes the race: a walker that
      // read a pte before S1 (S8) is out of its IRQ-off section before S3
      // (S8R), so its grab (if any) is there for the freeze to see (or lands
      // on a page that is still the process's, not yet freed).
      if (!allAcked(mem, s)) return BLOCKED;
      cpu.trace(step, r, -1, -1, s.nTargets);
      break;
    case STEP.S3: {
      // The splitter's own reference is all that may be left.
      const t = cpu.stamp();
      const seen = Atomics.compareExchange(mem.i32, mem.frame(h, FRAME.refcount), 1, 0);
      cpu.traceRead(t, step, r, -1, h, seen);
      if (seen !== 1) {
        s.aborting = true;
        return step;
      }
      break;
    }
    case STEP.S4:
      // Plain stores, as the kernel's clear_compound_head: the refcount is 0,
      // so nobody can grab any of these pages, and S5's stores publish them.
      for (let i = 0; i < n; i++) {
        mem.i32[mem.frame(h + i, FRAME.head)] = h + i;
        mem.i32[mem.frame(h + i, FRAME.order)] = 1;
      }
      cpu.trace(step, r, -1, h, 0);
      break;
    case STEP.S5:
      for (let i = 0; i < n; i++) mem.store(mem.frame(h + i, FRAME.refcount), 1);
      cpu.trace(step, r, -1, h, 0);
      break;
    case STEP.S6:
      for (let j = 0; j < n; j++) mapSubpage(cpu, h + j, r, j, h + j);
      cpu.trace(step, r, -1, h, makePte(h));
      break;
    case STEP.S7:
      for (let i = 0; i < n; i++) putFolio(mem, h + i, 1);
      cpu.trace(step, r, -1, h, 0);
      break;
    case STEP.S8: {
      // zap_pte_range for page 0: ptep_get_and_clear, page_remove_rmap, and
      // __tlb_remove_page: the page goes into the mmu_gather, which keeps the
      // mapping's reference until S8R, after the TLB flush.
      const pi = mem.pte(r, 0);
      const pte = mem.load(pi);
      mem.store(pi, PTE_NONE);
      if (ptePresent(pte)) {
        const f = pteFrame(pte);
        const head = headOf(mem, f);
        mem.store(mem.frame(f, FRAME.releasedBy), s.serial);
        mem.store(mem.frame(f, FRAME.state), FRAME_RELEASED);
        Atomics.sub(mem.i32, mem.frame(head, FRAME.mapcount), 1);
        s.gathered = head;
      }
      cpu.trace(step, r, 0, h, 0);
      break;
    }
    case STEP.S8R:
      // tlb_batch_pages_flush -> free_pages_and_swap_cache: the gather's
      // reference put; the former head, unpinned, is freed.
      if (s.gathered >= 0) putFolio(mem, s.gathered, 1);
      cpu.trace(step, r, 0, s.gathered, 0);
      s.gathered = -1;
      break;
    case STEP.S9: {
      // The allocator's next order-0 page is the frame just freed (LIFO).
      const free =
        mem.load(mem.frame(h, FRAME.refcount)) === 0 &&
        mem.load(mem.frame(h, FRAME.state)) === FRAME_FREE;
      if (free) makeFolio(mem, h, 1, FRAME_MAPPED, -1, -1, 1, 0);
      mem.store(mem.region(r, REGION.other), free ? h : -1);
      commit(cpu, s);
      cpu.trace(step, r, -1, h, free ? 1 : 0);
      finish(s, SPLIT.SPLIT);
      return step;
    }
    default:
      throw new Error(`splitStep: no step ${step}`);
  }
  s.pc++;
  return step;
}

/** Map page f at pte j of region r (remove_migration_pte): a reference and a mapping on `head`. */
function mapSubpage(cpu: Cpu, f: number, r: number, j: number, head: number): void {
  const mem = cpu.mem;
  mem.store(mem.frame(f, FRAME.region), r);
  mem.store(mem.frame(f, FRAME.index), j);
  mem.store(mem.frame(f, FRAME.state), FRAME_MAPPED);
  Atomics.add(mem.i32, mem.frame(head, FRAME.mapcount), 1);
  Atomics.add(mem.i32, mem.frame(head, FRAME.refcount), 1);
  mem.store(mem.pte(r, j), makePte(f));
}

/** The follow-up: SF (zap, refault a THP under a huge pmd), then SP (split that pmd). */
function followUp(cpu: Cpu, s: Split): number {
  if (s.followSteps[s.pc] === STEP.SF) {
    refault(cpu, s);
    return STEP.SF;
  }
  // SP, __split_huge_pmd_locked: the deposited table (the region's own) gets
  // a pte per subpage, each mapping holding a reference on the folio.
  const mem = cpu.mem;
  const r = s.region;
  const n = mem.geo.ptes;
  const pmd = mem.load(mem.pmd(r));
  if (pmdKind(pmd) === PMD_HUGE) {
    const f = pmdId(pmd);
    for (let j = 0; j < n; j++) mem.store(mem.pte(r, j), makePte(f + j));
    mem.store(mem.frame(f, FRAME.mapcount), n);
    Atomics.add(mem.i32, mem.frame(f, FRAME.refcount), n - 1);
    mem.store(mem.pmd(r), makeTablePmd(r));
  }
  commit(cpu, s);
  cpu.trace(STEP.SP, r, -1, pmdId(pmd), mem.load(mem.pmd(r)));
  s.pc++;
  return STEP.SP;
}

/**
 * SF: zap the region (every mapped pte), give the other allocation's page
 * back, and fault in a fresh THP under a huge pmd (the table stays deposited).
 */
function refault(cpu: Cpu, s: Split): void {
  const mem = cpu.mem;
  const r = s.region;
  const n = mem.geo.ptes;
  begin(cpu, s);
  mem.store(mem.pmd(r), 0);
  for (let j = 0; j < n; j++) {
    const pi = mem.pte(r, j);
    const pte = mem.load(pi);
    if (isMigrationPte(pte))
      throw new Error(`refault: pte ${j} of region ${r} is a migration entry`);
    mem.store(pi, PTE_NONE);
    if (ptePresent(pte)) releaseMapping(mem, pteFrame(pte), s.serial);
  }
  const other = mem.load(mem.region(r, REGION.other));
  if (other >= 0) {
    putFolio(mem, other, 1);
    mem.store(mem.region(r, REGION.other), -1);
  }
  const b = allocBlock(mem);
  if (b < 0) {
    commit(cpu, s);
    cpu.trace(STEP.SF, r, -1, -1, 0);
    finish(s, SPLIT.REFAULT_NO_MEMORY);
    return;
  }
  makeFolio(mem, b, n, FRAME_MAPPED, r, 0, 1, 1);
  for (let j = 0; j < n; j++) mem.store(mem.frameData(b + j), splitDataTag(r) + j);
  mem.store(mem.pmd(r), makeHugePmd(b));
  cpu.trace(STEP.SF, r, -1, b, makeHugePmd(b));
  s.result = SPLIT.REFAULTED;
  s.pc++;
}

/** The data word a fresh page of region r gets (page j: + j). */
export function splitDataTag(r: number): number {
  return (r & 0x7fff) << 8;
}

/** Harness bookkeeping before the run: region r maps a fresh THP by ptes (its pmd split). */
export function setupPteMappedThp(mem: Memory, r: number): void {
  const n = mem.geo.ptes;
  const b = allocBlock(mem);
  if (b < 0) throw new Error("setup: the frame pool has no free block");
  makeFolio(mem, b, n, FRAME_MAPPED, r, 0, n, n);
  for (let j = 0; j < n; j++) {
    mem.store(mem.frameData(b + j), splitDataTag(r) + j);
    mem.store(mem.pte(r, j), makePte(b + j));
  }
  mem.store(mem.region(r, REGION.gen), 1);
  mem.store(mem.region(r, REGION.other), -1);
  mem.store(mem.pmd(r), makeTablePmd(r));
}
