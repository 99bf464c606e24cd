// hugetlb PMD-table sharing against GUP-fast (CVE-2025-38085, 1013af4f585f):
// the walker and the unsharer of gup-vs-hugetlb-unshare, one step at a time.
//
// A world is one region line: several processes (mms) map the same hugetlb
// file at the same PUD-aligned range, and huge_pmd_share made all their PUD
// entries point at one PMD table T (the region's table). Each entry of T is a
// huge pmd mapping one hugetlb folio (an aligned block of `ptes` frames).
//
// The walker is GUP-fast in one mm: gup_fast_pud_range reads the PUD,
// gup_fast_pmd_range locates the entry in T from that snapshot and reads it,
// gup_fast_pmd_leaf grabs the folio and re-checks the entry in T. Nothing
// re-reads the PUD: a walker that read the PUD before its mm unshared T goes
// on walking T, whatever T has become (the hole; a PUD re-check is a knob).
//
// The unsharer is huge_pmd_unshare in each sharer but the last (fork, exit,
// munmap): pud_clear and ptdesc_pmd_pts_dec, the unsharer's TLB flush, then
// tlb_remove_table_sync_one per policy (knobs unshareSync,
// unshareSyncLastOnly). Then the remaining owner reuses T for another
// mapping of its own. The follow-up puts the world back: the file mapped in
// T again and every PUD pointing at T (huge_pmd_share).

import {
  allCpus,
  CTL,
  FRAME,
  FRAME_MAPPED,
  type Memory,
  makeHugePmd,
  makeTablePmd,
  PMD_HUGE,
  PMD_NONE,
  PMD_TABLE,
  pmdId,
  pmdKind,
  REGION,
} from "../memory/layout.js";
import type { Cpu } from "./cpu.js";
import type { Fix } from "./fixes.js";
import {
  allocBlock,
  GUP_PIN_COUNTING_BIAS,
  makeFolio,
  putFolio,
  releaseMapping,
  tryGrab,
} from "./frames.js";
import { allAcked, type IpiWait, ipiBroadcast, irqOff, irqOn, irqsOff } from "./irq.js";
import { BLOCKED, DONE, STEP } from "./steps.js";

/** At most this many mms share one world's table (the region line has room for their PUDs). */
export const MAX_MMS = 4;

// Words of a world's region line (REGION.pmd is mm 0's PUD). Kernel state:
// the PUDs, T's share count, each mm's mm_cpumask. Ghost state, for the
// oracle and the drawing only: sharers, incarnation. The file's folios are
// the world's first blocks (fileBase).
export const WORLD = {
  /** kernel: T's pt_share_count (sharers beyond the first; 0: exclusively owned) */
  shareCount: 5,
  /** ghost: bit k set while mm k's PUD points at T */
  sharers: 6,
  /** ghost: bumped each time T's entries change hands (reuse, restore) */
  incarnation: 7,
  /**
   * kernel, the union variant only: the mm_cpumask of every mm that unshared
   * T since T's last sync IPI (a cpumask T would carry in its ptdesc)
   */
  unsharedCpus: 8,
  /** kernel: mm 1..3's PUD entries (mm 0's is REGION.pmd) */
  pud1: 9,
  /** kernel: mm_cpumask(mm k) at cpumask0 + k, a bit per CPU */
  cpumask0: 12,
} as const;

export function pudIndex(mem: Memory, world: number, mm: number): number {
  return mm === 0 ? mem.pmd(world) : mem.region(world, WORLD.pud1 + mm - 1);
}

/** Ghost owner of a frame (FRAME.region): mm k of a world, or the world's hugetlb file. */
export const ownerOf = (world: number, mm: number): number => world * 8 + mm;
export const fileOwner = (world: number): number => world * 8 + 7;

/** First frame of a world's file folios (entry j: + j * ptes): setup allocates them first, world by world. */
export const fileBase = (mem: Memory, world: number): number => world * mem.geo.ptes * mem.geo.ptes;

/** The mm a walker CPU runs in: CPU 1 in mm 0 (A), CPU 2 in mm 1 (B), ... (CPU 0 is the unsharer). */
export const mmOfCpu = (cpu: number, mms: number): number => (cpu - 1) % mms;

/** A world's data words: the file's page j, and mm k's private page j. */
export const fileData = (world: number, j: number): number => 0x100000 | (world << 8) | j;
const privateData = (world: number, mm: number, j: number): number =>
  0x200000 | (world << 8) | (mm << 4) | j;

/**
 * Harness bookkeeping before the run: `mms` processes share T (table `world`),
 * which maps the file's folios; CPU 0 (the unsharer) is in every mm_cpumask,
 * each walker CPU in its own mm's.
 */
export function setupWorld(mem: Memory, world: number, mms: number): void {
  if (mms < 2 || mms > MAX_MMS) throw new Error(`a world has 2 to ${MAX_MMS} mms, not ${mms}`);
  const ptes = mem.geo.ptes;
  const base = fileBase(mem, world);
  for (let j = 0; j < ptes; j++) {
    const b = allocBlock(mem);
    if (b < 0) throw new Error("setup: the frame pool has no free block");
    if (b !== base + j * ptes) throw new Error("setup: worlds must be set up in order, first");
    // A reference for the page cache and one for T's mapping; one mapping (T).
    makeFolio(mem, b, ptes, FRAME_MAPPED, fileOwner(world), j, 2, 1);
    mem.store(mem.frameData(b), fileData(world, j));
    mem.store(mem.pte(world, j), makeHugePmd(b));
  }
  mem.store(mem.region(world, WORLD.unsharedCpus), 0);
  for (let k = 0; k < mms; k++) {
    mem.store(pudIndex(mem, world, k), makeTablePmd(world));
    let mask = 1;
    for (let c = 1; c < mem.geo.cpus; c++) if (mmOfCpu(c, mms) === k) mask |= 1 << c;
    mem.store(mem.region(world, WORLD.cpumask0 + k), mask);
  }
  mem.store(mem.region(world, WORLD.shareCount), mms - 1);
  mem.store(mem.region(world, WORLD.sharers), (1 << mms) - 1);
  mem.store(mem.region(world, WORLD.incarnation), 1);
  mem.store(mem.region(world, REGION.gen), 1);
}

// ---- the walker ------------------------------------------------------------------

/** How a walk ended. */
export const HWALK = {
  RUNNING: 0,
  /** every entry of the range returned */
  PINNED: 1,
  /** HG6: the entry in T changed after the grab */
  BACKOFF_PMD: 2,
  /** HG7: the PUD changed after the grab (variant) */
  BACKOFF_PUD: 3,
  /** HG1: the PUD is none: slow path */
  FALLBACK_PUD: 4,
  /** HG3: the entry in T is none: slow path */
  FALLBACK_PMD: 5,
  /** HG5: refcount zero: slow path */
  FALLBACK_GRAB: 6,
} as const;

export interface HugeWalk {
  pc: number;
  /** the world */
  region: number;
  /** the mm this walk runs in (from its CPU, at G0) */
  mm: number;
  mms: number;
  /** entries [start, end) of T */
  start: number;
  end: number;
  j: number;
  /** HG1's snapshot of the PUD, by value */
  pud: number;
  /** HG3's snapshot of the entry in T */
  pmd: number;
  folio: number;
  refs: number;
  grabbed: boolean;
  nr: number;
  frames: Int32Array;
  indexes: Int32Array;
  folios: Int32Array;
  result: number;
  bias: number;
  startClock: number;
  endClock: number;
}

export function newHugeWalk(ptes: number, mms: number): HugeWalk {
  return {
    pc: DONE,
    region: 0,
    mm: 0,
    mms,
    start: 0,
    end: 0,
    j: 0,
    pud: 0,
    pmd: 0,
    folio: -1,
    refs: 0,
    grabbed: false,
    nr: 0,
    frames: new Int32Array(ptes),
    indexes: new Int32Array(ptes),
    folios: new Int32Array(ptes),
    result: HWALK.RUNNING,
    bias: GUP_PIN_COUNTING_BIAS,
    startClock: 0,
    endClock: 0,
  };
}

export function startHugeWalk(w: HugeWalk, world: number, start: number, count: number): void {
  w.pc = STEP.G0;
  w.region = world;
  w.start = start;
  w.end = start + count;
  w.j = start;
  w.nr = 0;
  w.grabbed = false;
  w.result = HWALK.RUNNING;
}

function backOff(cpu: Cpu, w: HugeWalk, result: number): void {
  if (w.grabbed) putFolio(cpu.mem, w.folio, w.refs);
  w.grabbed = false;
  w.result = result;
  w.pc = STEP.G9;
}

/**
 * The entry passed its last re-check: G8, pages[nr++] = page (a local store:
 * traced, but in the same step as the re-check), then the next entry or G9.
 */
function record(cpu: Cpu, w: HugeWalk): void {
  w.frames[w.nr] = w.folio;
  w.indexes[w.nr] = w.j;
  w.folios[w.nr] = w.folio;
  w.nr++;
  w.grabbed = false;
  cpu.trace(STEP.G8, w.region, w.j, w.folio, w.nr);
  w.j++;
  if (w.j < w.end) w.pc = STEP.HG3;
  else {
    w.result = HWALK.PINNED;
    w.pc = STEP.G9;
  }
}

/** Run the walk's next step; returns the step that ran. */
export function hugeWalkStep(cpu: Cpu, w: HugeWalk): number {
  const mem = cpu.mem;
  const fix = cpu.fix;
  // G0 in the same step as HG1, the PUD read: before the read, interrupts
  // off or on make no difference to what the walk can see (an IPI sent in
  // between would wait for G9 either way).
  if (w.pc === STEP.G0) {
    irqOff(cpu);
    w.mm = mmOfCpu(cpu.id, w.mms);
    w.startClock = cpu.trace(STEP.G0, w.region, w.start, -1, w.mm);
    w.pc = STEP.HG1;
  }
  const step = w.pc;
  switch (step) {
    case STEP.HG1: {
      // gup_fast_pud_range: the PUD, once, by value.
      const t = cpu.stamp();
      w.pud = Atomics.load(mem.i32, pudIndex(mem, w.region, w.mm));
      cpu.traceRead(t, step, w.region, w.mm, -1, w.pud);
      if (pmdKind(w.pud) === PMD_TABLE) w.pc = STEP.HG3;
      else {
        w.result = HWALK.FALLBACK_PUD;
        w.pc = STEP.G9;
      }
      break;
    }
    case STEP.HG3: {
      // gup_fast_pmd_range: the table comes from the PUD snapshot.
      const t = cpu.stamp();
      w.pmd = Atomics.load(mem.i32, mem.pte(pmdId(w.pud), w.j));
      cpu.traceRead(t, step, w.region, w.j, pmdKind(w.pmd) === PMD_HUGE ? pmdId(w.pmd) : -1, w.pmd);
      if (pmdKind(w.pmd) === PMD_HUGE) w.pc = STEP.HG5;
      else {
        w.result = HWALK.FALLBACK_PMD;
        w.pc = STEP.G9;
      }
      break;
    }
    case STEP.HG5: {
      // gup_fast_pmd_leaf: try_grab_folio_fast on the folio the entry maps.
      w.folio = pmdId(w.pmd);
      w.refs = w.bias;
      const ok = tryGrab(mem, w.folio, w.refs);
      cpu.trace(step, w.region, w.j, w.folio, ok ? 1 : 0);
      if (!ok) {
        w.result = HWALK.FALLBACK_GRAB;
        w.pc = STEP.G9;
        break;
      }
      w.grabbed = true;
      w.pc = fix.recheckPud && !fix.recheckPudLast ? STEP.HG7 : STEP.HG6;
      break;
    }
    case STEP.HG7: {
      // Not in the kernel: the PUD re-check David Hildenbrand names as the
      // alternative to an IPI (upper level first, as gup_fast_pte_range
      // checks the pmd before the pte).
      const t = cpu.stamp();
      const live = Atomics.load(mem.i32, pudIndex(mem, w.region, w.mm));
      cpu.traceRead(t, step, w.region, w.mm, w.folio, live);
      if (live !== w.pud) backOff(cpu, w, HWALK.BACKOFF_PUD);
      else if (fix.recheckPudLast) record(cpu, w);
      else w.pc = STEP.HG6;
      break;
    }
    case STEP.HG6: {
      // gup_fast_pmd_leaf: pmd_val(orig) != pmd_val(*pmdp), where pmdp is in T.
      const t = cpu.stamp();
      const live = Atomics.load(mem.i32, mem.pte(pmdId(w.pud), w.j));
      cpu.traceRead(t, step, w.region, w.j, w.folio, live);
      if (live !== w.pmd) backOff(cpu, w, HWALK.BACKOFF_PMD);
      else if (fix.recheckPud && fix.recheckPudLast) w.pc = STEP.HG7;
      else record(cpu, w);
      break;
    }
    default:
      throw new Error(`hugeWalkStep: no step ${step}`);
  }
  // G9 in the same step as the walk's last read: it only turns interrupts
  // back on, and nothing another CPU does between the two could change what
  // the walk read (an IPI sent meanwhile waits for G9 either way).
  if (w.pc === STEP.G9) {
    irqOn(cpu);
    w.endClock = cpu.trace(STEP.G9, w.region, w.j, -1, w.nr);
    w.pc = DONE;
  }
  return step;
}

/** GU for every page the walk returned. */
export function hugeUnpinAll(cpu: Cpu, w: HugeWalk): void {
  for (let k = 0; k < w.nr; k++) {
    putFolio(cpu.mem, w.folios[k], w.bias);
    cpu.trace(STEP.GU, w.region, w.indexes[k], w.frames[k], 0);
  }
}

// ---- the unsharer ------------------------------------------------------------------

export const UNSHARE = {
  RUNNING: 0,
  /** every sharer but the last left, the last reused T */
  REUSED: 1,
  /** the same, and an IPI of the unshares found a target with interrupts off */
  REUSED_WAITED: 2,
  /** follow-up: the world is back (file in T, every PUD at T) */
  RESHARED: 3,
  /** nothing to do (the world is not in the state the operation starts from) */
  IDLE: 4,
} as const;

export const PHASE_UNSHARE = 0;
export const PHASE_RESHARE = 1;

export interface Unshare {
  pc: number;
  /** phase 0's steps and their arguments (an mm, or an entry of T), fixed for the op's life */
  unshareSteps: Int32Array;
  unshareArgs: Int32Array;
  reshareSteps: Int32Array;
  reshareArgs: Int32Array;
  len: number;
  phase: number;
  region: number;
  mms: number;
  serial: number;
  /** the last HU1 left T exclusively owned (share count 0) */
  exclusive: boolean;
  /** ghost, for the outcome: an IPI found a target inside an IRQ-off section */
  waited: boolean;
  result: number;
  targets: Int32Array;
  epochs: Int32Array;
  nTargets: number;
}

/** The steps of the unshares and the reuse under a fix (a fix is data: this reads it). */
export function unshareProgram(fix: Fix, mms: number): [number[], number[]] {
  const steps: number[] = [];
  const args: number[] = [];
  const add = (s: number, a: number) => {
    steps.push(s);
    args.push(a);
  };
  add(STEP.HU0, 0);
  for (let k = 0; k < mms - 1; k++) {
    // A broadcast TLBI waits for nobody: it is part of HU1's step.
    add(STEP.HU1, k);
    if (fix.unshareFlushIpi) {
      add(STEP.HU2, k);
      add(STEP.HU2W, k);
    }
    if (fix.unshareSync !== "none") {
      add(STEP.HU3, k);
      if (fix.ipiWait) add(STEP.HU3W, k);
    }
  }
  add(STEP.HU4, 0);
  return [steps, args];
}

export function newUnshare(fix: Fix, cpus: number, mms: number): Unshare {
  const [steps, args] = unshareProgram(fix, mms);
  const reshare: number[] = [STEP.HU5, STEP.HU6];
  const reshareArgs = [0, 0];
  return {
    pc: 0,
    unshareSteps: Int32Array.from(steps),
    unshareArgs: Int32Array.from(args),
    reshareSteps: Int32Array.from(reshare),
    reshareArgs: Int32Array.from(reshareArgs),
    len: 0,
    phase: PHASE_UNSHARE,
    region: 0,
    mms,
    serial: 0,
    exclusive: false,
    waited: false,
    result: UNSHARE.RUNNING,
    targets: new Int32Array(cpus),
    epochs: new Int32Array(cpus),
    nTargets: 0,
  };
}

export function startUnshare(cpu: Cpu, u: Unshare, world: number, phase: number): void {
  const mem = cpu.mem;
  u.phase = phase;
  u.region = world;
  u.len = (phase === PHASE_UNSHARE ? u.unshareSteps : u.reshareSteps).length;
  u.pc = 0;
  u.serial = 0;
  u.exclusive = false;
  u.waited = false;
  u.nTargets = 0;
  u.result = UNSHARE.RUNNING;
  // Phase 0 starts from a world every mm shares; the follow-up from one that is not.
  const full = mem.load(mem.region(world, WORLD.sharers)) === (1 << u.mms) - 1;
  if (full !== (phase === PHASE_UNSHARE)) finish(u, UNSHARE.IDLE);
}

export const unshareDone = (u: Unshare): boolean => u.pc >= u.len;

export function unshareNext(u: Unshare): number {
  if (u.pc >= u.len) return DONE;
  return (u.phase === PHASE_UNSHARE ? u.unshareSteps : u.reshareSteps)[u.pc];
}

/** The next step waits for IPI acks that are not all in. */
export function unshareBlocked(mem: Memory, u: Unshare): boolean {
  const s = unshareNext(u);
  return (s === STEP.HU2W || s === STEP.HU3W) && !allAcked(mem, u);
}

function finish(u: Unshare, result: number): void {
  u.result = result;
  u.pc = u.len;
}

/** A new operation serial (ghost), the world marked in flight first (as collapse's begin). */
function begin(cpu: Cpu, u: Unshare): void {
  const mem = cpu.mem;
  u.serial = mem.load(CTL.opSerial) + 1;
  mem.store(mem.region(u.region, REGION.inFlight), u.serial);
  mem.store(CTL.opSerial, u.serial);
}

function commit(cpu: Cpu, u: Unshare): void {
  const mem = cpu.mem;
  mem.store(mem.region(u.region, REGION.committed), u.serial);
  mem.store(mem.region(u.region, REGION.inFlight), 0);
}

/**
 * huge_pmd_unshare's page-table part in mm `mm`: pud_clear, then
 * ptdesc_pmd_pts_dec. Returns the share count left (0: T exclusively owned).
 */
export function hugePmdUnshare(mem: Memory, fix: Fix, world: number, mm: number): number {
  Atomics.store(mem.i32, pudIndex(mem, world, mm), PMD_NONE);
  if (fix.unshareSyncUnion) {
    const acc = mem.region(world, WORLD.unsharedCpus);
    mem.store(acc, mem.load(acc) | mem.load(mem.region(world, WORLD.cpumask0 + mm)));
  }
  const left = Atomics.sub(mem.i32, mem.region(world, WORLD.shareCount), 1) - 1;
  const sharers = mem.region(world, WORLD.sharers);
  mem.store(sharers, mem.load(sharers) & ~(1 << mm));
  return left;
}

/** huge_pmd_share in mm `mm`: ptdesc_pmd_pts_inc, then its PUD points at T (the same value as before). */
export function hugePmdShare(mem: Memory, world: number, mm: number): void {
  Atomics.add(mem.i32, mem.region(world, WORLD.shareCount), 1);
  const sharers = mem.region(world, WORLD.sharers);
  mem.store(sharers, mem.load(sharers) | (1 << mm));
  mem.store(pudIndex(mem, world, mm), makeTablePmd(world));
}

/** Who tlb_remove_table_sync_one's IPI goes to after an unshare in mm `mm` (a CPU bitmask). */
export function syncMask(mem: Memory, fix: Fix, world: number, mm: number): number {
  if (fix.unshareSync === "none") return 0;
  if (fix.unshareSync === "all") return -1;
  const mine = mem.load(mem.region(world, WORLD.cpumask0 + mm));
  if (!fix.unshareSyncUnion) return mine;
  // The union variant: every mm that unshared T since its last sync; cleared by this one.
  const acc = mem.region(world, WORLD.unsharedCpus);
  const all = mem.load(acc) | mine;
  mem.store(acc, 0);
  return all;
}

/** IPI the CPUs in `mask` but this one; notes (ghost) whether one had interrupts off. */
export function sendTo(cpu: Cpu, u: IpiWait & { waited: boolean }, mask: number): number {
  const mem = cpu.mem;
  let n = 0;
  // Every online CPU, bystanders too: they are in no mm's cpumask, but "all" reaches them.
  for (let c = 0; c < allCpus(mem.geo); c++) {
    if (c === cpu.id || (c < 32 && ((mask >>> c) & 1) === 0)) continue;
    if (irqsOff(mem, c)) u.waited = true;
    u.targets[n++] = c;
  }
  ipiBroadcast(cpu, u, n);
  return n;
}

/** Run the operation's next step: its id, BLOCKED (waiting for acks), or DONE. */
export function unshareStep(cpu: Cpu, u: Unshare): number {
  if (u.pc >= u.len) return DONE;
  const mem = cpu.mem;
  const fix = cpu.fix;
  const ptes = mem.geo.ptes;
  const w = u.region;
  const reshare = u.phase !== PHASE_UNSHARE;
  const step = (reshare ? u.reshareSteps : u.unshareSteps)[u.pc];
  const arg = (reshare ? u.reshareArgs : u.unshareArgs)[u.pc];
  switch (step) {
    case STEP.HU0:
      // The callers' locks (i_mmap_rwsem, the hugetlb VMA lock): they exclude
      // faults and huge_pmd_share, not GUP-fast. Nothing to model but time.
      begin(cpu, u);
      cpu.trace(step, w, -1, -1, 0);
      break;
    case STEP.HU1: {
      // huge_pmd_unshare in mm `arg`: pud_clear, then ptdesc_pmd_pts_dec;
      // the TLB flush too when it is a broadcast TLBI (arm64: no IPI).
      const old = mem.load(pudIndex(mem, w, arg));
      const left = hugePmdUnshare(mem, fix, w, arg);
      u.exclusive = left === 0;
      cpu.trace(step, w, arg, left, old);
      break;
    }
    case STEP.HU2: {
      // The unsharer's TLB flush as x86 does it: an IPI to mm_cpumask, and
      // a wait for every ack (HU2W).
      const n = sendTo(cpu, u, mem.load(mem.region(w, WORLD.cpumask0 + arg)));
      cpu.trace(step, w, arg, -1, n);
      break;
    }
    case STEP.HU2W:
    case STEP.HU3W:
      if (!allAcked(mem, u)) return BLOCKED;
      cpu.trace(step, w, arg, -1, u.nTargets);
      break;
    case STEP.HU3: {
      // tlb_remove_table_sync_one, per policy: to every other CPU, or to the
      // unsharer mm's mm_cpumask; with the last-sharer rule, only when T is
      // now exclusively owned (tlb->fully_unshared_tables).
      let n = -1;
      if (!fix.unshareSyncLastOnly || u.exclusive) n = sendTo(cpu, u, syncMask(mem, fix, w, arg));
      else u.nTargets = 0;
      cpu.trace(step, w, arg, u.exclusive ? 1 : 0, n);
      // No IPI sent: nothing to wait for.
      if (n < 0 && u.unshareSteps[u.pc + 1] === STEP.HU3W) u.pc++;
      break;
    }
    case STEP.HU4: {
      // The remaining owner (the last mm) reuses T for another mapping of its
      // own (one step: it holds T's lock): every entry now maps a private
      // folio of that mm. The file's folios lose T's mapping (the page cache
      // keeps them).
      const owner = u.mms - 1;
      const inc = mem.region(w, WORLD.incarnation);
      mem.store(inc, mem.load(inc) + 1);
      let first = -1;
      for (let j = 0; j < ptes; j++) {
        const ei = mem.pte(w, j);
        const old = mem.load(ei);
        const b = allocBlock(mem);
        if (b >= 0) {
          makeFolio(mem, b, ptes, FRAME_MAPPED, ownerOf(w, owner), j, 1, 1);
          mem.store(mem.frameData(b), privateData(w, owner, j));
          if (first < 0) first = b;
        }
        mem.store(ei, b >= 0 ? makeHugePmd(b) : PMD_NONE);
        if (pmdKind(old) === PMD_HUGE) {
          const f = pmdId(old);
          Atomics.sub(mem.i32, mem.frame(f, FRAME.mapcount), 1);
          putFolio(mem, f, 1);
        }
      }
      cpu.trace(step, w, owner, first, 0);
      commit(cpu, u);
      finish(u, u.waited ? UNSHARE.REUSED_WAITED : UNSHARE.REUSED);
      return step;
    }
    case STEP.HU5: {
      // Follow-up: the owner's mapping goes (its folios released; a pin keeps
      // one alive, unmapped), the file is mapped in T again.
      begin(cpu, u);
      const inc = mem.region(w, WORLD.incarnation);
      mem.store(inc, mem.load(inc) + 1);
      const base = fileBase(mem, w);
      for (let j = 0; j < ptes; j++) {
        const ei = mem.pte(w, j);
        const old = mem.load(ei);
        if (pmdKind(old) === PMD_HUGE) releaseMapping(mem, pmdId(old), u.serial);
        const file = base + j * ptes;
        Atomics.add(mem.i32, mem.frame(file, FRAME.refcount), 1);
        Atomics.add(mem.i32, mem.frame(file, FRAME.mapcount), 1);
        mem.store(ei, makeHugePmd(file));
      }
      cpu.trace(step, w, -1, base, 0);
      break;
    }
    case STEP.HU6: {
      // huge_pmd_share in every mm that left (one step: they hold the
      // mapping's i_mmap lock in turn): ptdesc_pmd_pts_inc, then the PUD
      // points at T again, the same value it had before the unshare.
      for (let k = 0; k < u.mms - 1; k++) hugePmdShare(mem, w, k);
      cpu.trace(step, w, u.mms - 1, -1, makeTablePmd(w));
      commit(cpu, u);
      finish(u, UNSHARE.RESHARED);
      return step;
    }
    default:
      throw new Error(`unshareStep: no step ${step}`);
  }
  u.pc++;
  return step;
}

/** Where mm `mm` of a world maps entry j now: the folio's head, or -1. */
export function hugeTranslate(mem: Memory, world: number, mm: number, j: number): number {
  const pud = mem.load(pudIndex(mem, world, mm));
  if (pmdKind(pud) !== PMD_TABLE) return -1;
  const e = mem.load(mem.pte(pmdId(pud), j));
  return pmdKind(e) === PMD_HUGE ? pmdId(e) : -1;
}
