// The one place that knows where things live in the shared page table.
// Everything else asks a Memory for an index; nothing else computes offsets.
//
// Units: the Int32 view is indexed in 4-byte words, the BigInt64 view in
// 8-byte words. A cache line is 64 bytes = 16 words; hot per-CPU words get
// lines of their own so that CPUs do not false-share them.

export const LINE_WORDS = 16;
const LINE_BYTES = 64;

/** Size of the model: fixed for one run, decided by the main thread. */
export interface Geometry {
  /** CPU 0 is the scenario's mutator, CPUs 1..cpus-1 are its walkers (GUP-fast). */
  cpus: number;
  /** PMD slots; each maps one PTE table of `ptes` small pages, or one huge page. */
  regions: number;
  /** PTEs per table (the kernel has 512; a few are enough to race). */
  ptes: number;
  /**
   * Frames in the page allocator: a multiple of `ptes`. The allocator hands out
   * aligned blocks of `ptes` frames, so that a huge page is a folio of `ptes`
   * contiguous frames (head first), as a THP is.
   */
  frames: number;
  /** Trace entries each walker CPU keeps (a ring). */
  traceRing: number;
  /**
   * Trace entries CPU 0 (the mutator) keeps; default traceRing. Larger, since
   * a race is drawn when its walk is graded, which freerun does several walks
   * later, while the mutator has gone on stepping.
   */
  mutatorRing?: number;
  /**
   * Page tables in the pool (src/kernel/tables.ts): default `regions`, one per
   * region as today, with no pool words. A scenario that frees and reuses
   * tables (gup-vs-table-free) declares more: then a free list and per-table
   * words follow the table area.
   */
  tables?: number;
  /**
   * Bystander CPUs (default 0): ids cpus .. cpus + bystanders - 1, after the
   * walkers. They never walk this mm; they spend stretches with interrupts off
   * on unrelated work and take IPIs only with interrupts on. They get per-CPU
   * words, a trace ring and statistics like any CPU; `cpus` does not count them.
   */
  bystanders?: number;
}

/** Every CPU: the mutator, the walkers and the bystanders. */
export const allCpus = (geo: Geometry): number => geo.cpus + (geo.bystanders ?? 0);

// ---- PMD and PTE encodings -------------------------------------------------
// pmd = kind << 28 | id, as the kernel's pmd_val is the table's (or the huge
// page's) address plus flags: nothing else. The same table installed again
// gives the same value (docs/model.md, "What G6 really compares"): any
// generation is ghost state in the region's line (REGION.gen), never here.
export const PMD_NONE = 0;
export const PMD_TABLE = 1 << 28;
export const PMD_HUGE = 2 << 28;
const PMD_KIND_MASK = 3 << 28;
const PMD_ID_MASK = 0xfffff;

export const pmdKind = (pmd: number): number => pmd & PMD_KIND_MASK;
export const pmdId = (pmd: number): number => pmd & PMD_ID_MASK;
export const makeTablePmd = (table: number): number => PMD_TABLE | table;
export const makeHugePmd = (frame: number): number => PMD_HUGE | frame;
/** Frame and table ids must fit the pmd id field. */
export const MAX_PMD_ID = PMD_ID_MASK + 1;

// pte = PRESENT | frame + 1 (so that frame 0 is still a non-zero pte).
export const PTE_NONE = 0;
export const PTE_PRESENT = 1 << 30;
export const makePte = (frame: number): number => PTE_PRESENT | (frame + 1);
export const ptePresent = (pte: number): boolean => (pte & PTE_PRESENT) !== 0;
export const pteFrame = (pte: number): number => (pte & ~PTE_PRESENT) - 1;
/** A migration entry (not present) for frame: what unmap_folio leaves while a folio is split. */
export const PTE_MIGRATION = 1 << 29;
export const makeMigrationPte = (frame: number): number => PTE_MIGRATION | (frame + 1);
export const isMigrationPte = (pte: number): boolean => (pte & PTE_MIGRATION) !== 0;
export const migrationFrame = (pte: number): number => (pte & ~PTE_MIGRATION) - 1;

// ---- frame states (per frame: the allocator's word, and ghost for the oracle) ----
export const FRAME_FREE = 0;
/** mapped by a PTE (small) or by a PMD (huge) */
export const FRAME_MAPPED = 1;
/** its pte was cleared by a mutator while its folio lived on (a reference still held) */
export const FRAME_RELEASED = 2;
/** allocated as a huge page, not yet installed (K1..K10) */
export const FRAME_NEW_HUGE = 3;

// ---- global control words (each on its own line) ------------------------------
export const CTL = {
  /** global step clock: Atomics.add per traced step gives a total order */
  clock: 0,
  /** 1 when every CPU must stop at its next check */
  stop: 1 * LINE_WORDS,
  /** first fault: kind (FAULT_*), cpu that noticed, peer it names, step */
  faultKind: 2 * LINE_WORDS,
  faultCpu: 2 * LINE_WORDS + 1,
  faultPeer: 2 * LINE_WORDS + 2,
  faultStep: 2 * LINE_WORDS + 3,
  /** lockstep: round opened by CPU 0; round whose collapses are all done */
  roundOpen: 3 * LINE_WORDS,
  roundDone: 3 * LINE_WORDS + 1,
  /** frame allocator cursor (in blocks) and mutator operation serial (CPU 0 only) */
  allocCursor: 4 * LINE_WORDS,
  opSerial: 4 * LINE_WORDS + 1,
  /** first race slot: 0 free, 1 taken; then its metadata */
  firstRaceTaken: 5 * LINE_WORDS,
  firstRaceCpu: 5 * LINE_WORDS + 1,
  firstRaceRegion: 5 * LINE_WORDS + 2,
  firstRaceIndex: 5 * LINE_WORDS + 3,
  firstRaceFrame: 5 * LINE_WORDS + 4,
  firstRaceEntries: 5 * LINE_WORDS + 5,
  firstRaceConfirmed: 5 * LINE_WORDS + 6,
  /** lockstep: 1 once CPU 0 will open no more rounds */
  closed: 6 * LINE_WORDS,
  /**
   * The delay scale, in 1/DELAY_SCALE_ONE: walkers multiply their random
   * delays by it, the mutator divides by it (the main thread's adapter writes
   * it, src/run/adapt.ts; each CPU reads it at a trial's start)
   */
  delayScale: 6 * LINE_WORDS + 1,
  /** page-table pool (gup-vs-table-free): the free list's head table, -1 when empty (CPU 0 only) */
  tableFree: 6 * LINE_WORDS + 2,
  /**
   * lockstep: 1 once a race was counted in an untraced trial while the
   * first-race slot was still free: every trial is traced until one is drawn
   */
  traceAll: 6 * LINE_WORDS + 3,
  /**
   * 1 once a run's warm-up is over (RunConfig.warmMs; bench storms,
   * src/bench/storm.ts): latency samples are taken from then on, and counts
   * are of the time after it
   */
  measuring: 6 * LINE_WORDS + 4,
  /**
   * 1: every random delay sleeps (a futex wait) for its length instead of
   * spinning, giving its core to another thread (the adapter sets it when the
   * window is never reached, src/run/adapt.ts; each CPU reads it at a trial's start)
   */
  delaySleep: 6 * LINE_WORDS + 5,
  /** CPUs whose worker thread has started its task (CpuTask.jitWhenAllStarted) */
  started: 6 * LINE_WORDS + 6,
} as const;

/** CTL.delayScale for a scale of 1: the delays as given. */
export const DELAY_SCALE_ONE = 1024;

/** CTL.stop values: finish the round in hand, or leave at once (a fault). */
export const STOP_GRACEFUL = 1;
export const STOP_ABORT = 2;
const CTL_LINES = 7;

export const FAULT_NONE = 0;
export const FAULT_STALL = 1;
export const FAULT_CRASH = 2;
export const FAULT_HARNESS = 3;
/** a CPU did not come online within the start-up bound */
export const FAULT_STARTUP = 4;

// ---- per-CPU words -----------------------------------------------------------
// Line A is written by its owner only; line B is written by other CPUs
// (IPI requests, doorbell). Kept apart so that a sender's store does not
// steal the line the owner writes on every step.
export const CPU_A = {
  /** odd while interrupts are off (a counter: a waiter can tell it re-entered) */
  irq: 0,
  ipiAck: 1,
  lastStep: 2,
  lastClock: 3,
  /** 1 while blocked in Atomics.wait on the doorbell */
  sleeping: 4,
  traceHead: 5,
  /** lockstep: last round this CPU finished grading and unpinning */
  roundAck: 6,
  /** 1 once the worker attached and started */
  online: 7,
  /** handler entries: IPIs taken */
  ipiTaken: 8,
  /** lockstep: the last trial this GUP CPU is ready to start (round * regions + region + 1) */
  ready: 9,
  /** bumped while the CPU makes progress or waits: the main thread's watchdog reads it */
  heartbeat: 10,
  /**
   * KVM steal-time `preempted` (arch/x86/kernel/kvm.c): PREEMPTED while the
   * host has descheduled this vCPU (a preemption delay point, or the
   * explorer's preemption action); a PV TLB flush that skips it ORs in
   * FLUSH_TLB, and the vCPU flushes when it runs again. The owner sets and
   * clears it; an IPI sender may OR in FLUSH_TLB (compare-exchange).
   */
  preempted: 11,
} as const;
/** CPU_A.preempted bits: KVM_VCPU_PREEMPTED and KVM_VCPU_FLUSH_TLB. */
export const VCPU_PREEMPTED = 1;
export const VCPU_FLUSH_TLB = 2;
export const CPU_B = {
  ipiReq: 0,
  ipiSender: 1,
  doorbell: 2,
} as const;
const CPU_LINES = 2;

// ---- per-region words (one line each) ----------------------------------------
// Only `pmd` is kernel state; the rest is the harness's (announce) or ghost
// state for the oracle and the drawing, never read by the code under test.
export const REGION = {
  pmd: 0,
  /** lockstep: the round in which this region's trial was last announced */
  announce: 1,
  /** ghost: bumped each time a table is (re)installed: tells the drawing which install a walker saw */
  gen: 2,
  /** ghost: serial of the last mutator operation that committed here (collapse: K10) */
  committed: 3,
  /** ghost: serial of the mutator operation now running here, 0 if none */
  inFlight: 4,
  /** gup-vs-split: the former head frame another allocation took over (S9), -1 if none; freed at the refault */
  other: 5,
} as const;

// ---- page-table pool (only when Geometry.tables is given) ---------------------
// `next` is the allocator's own word (the free list, kernel state); the rest
// is ghost state for the oracle and the drawing, never read by kernel steps.
export const TABLE = {
  /** the free list: next free table, -1 at the end */
  next: 0,
  /** ghost: TABLE_* */
  state: 1,
  /** ghost: the region it serves (TABLE_OWNER_OTHER: another mm), -1 when free */
  owner: 2,
  /** ghost: bumped by every pte_alloc of this table */
  incarnation: 3,
} as const;
const TABLE_META_WORDS = 4;
export const TABLE_FREE = 0;
/** installed in a pmd (or detached from it, not yet freed) */
export const TABLE_USED = 1;
/** deposited behind a huge pmd (pgtable_trans_huge_deposit) */
export const TABLE_DEPOSITED = 2;
/** deposited, with non-PTE words in its first entries (ppc radix's list_head) */
export const TABLE_SCRIBBLED = 3;
/** handed to pte_free_defer: unreachable, not yet freed (safe to read) */
export const TABLE_PENDING = 4;
/** ghost owner of a table serving another mm (no pmd slot here; nobody walks it) */
export const TABLE_OWNER_OTHER = 0x7ffe;

// ---- frames ------------------------------------------------------------------
// A folio is one frame (a small page) or `ptes` contiguous frames (a huge
// page). Its refcount and mapcount live on its head frame (page_folio); every
// frame keeps its own head, its own data word and its own ghost words.
export const FRAME = {
  /** on the head: references (a mapping holds 1, a FOLL_PIN 1024) */
  refcount: 0,
  /** on the head: mappings (ptes or a pmd) */
  mapcount: 1,
  /** FRAME_*: the allocator's word; per frame */
  state: 2,
  /** ghost: region and page index this frame is (or was last) mapped at */
  region: 3,
  index: 4,
  /** ghost: serial of the mutator operation that cleared its pte, 0 if none */
  releasedBy: 5,
  /** compound_head: the folio's head frame (itself for a small page or a head) */
  head: 6,
  /** on the head: frames in the folio (1 or ptes) */
  order: 7,
  /** the page's one data word */
  data: 8,
} as const;
/** A frame per 64-byte line: pins on neighbouring pages do not share a line. */
const FRAME_WORDS = LINE_WORDS;

// ---- trace entries -------------------------------------------------------------
export const TRACE = { clock: 0, step: 1, region: 2, index: 3, frame: 4, value: 5 } as const;
export const TRACE_WORDS = 6;
export const FIRST_RACE_MAX_ENTRIES = 512;

// ---- statistics counters (BigInt64, per CPU) -----------------------------------------
// The harness's own counters; a scenario's outcomes are counted at
// STAT_OUTCOME_BASE + the outcome's index in its declaration.
export const STAT = {
  iterations: 0,
  gupCalls: 1,
  pins: 2,
  /** declared FORBIDDEN outcomes (the races), and those confirmed by data */
  races: 3,
  confirmed: 4,
  /** mutator operations that ran (trial operations and follow-ups) */
  mutatorOps: 5,
  ipiBroadcasts: 6,
  ipiWaitNs: 7,
  ipiTaken: 8,
  firstRaceUs: 9,
  startUs: 10,
  roundTrips: 11,
} as const;
export type StatName = keyof typeof STAT;
export const STAT_OUTCOME_BASE = 16;
/** outcomes a scenario may declare */
export const MAX_OUTCOMES = 32;
export const STAT_COUNT = STAT_OUTCOME_BASE + MAX_OUTCOMES;
const STAT_LINES = Math.ceil((STAT_COUNT * 8) / LINE_BYTES);

/** Offsets of every area, in Int32 words (BigInt stats in 8-byte words). */
export class Memory {
  readonly geo: Geometry;
  readonly sab: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly i64: BigInt64Array;
  readonly frameWords: number;
  readonly cpuBase: number;
  readonly regionBase: number;
  readonly tableBase: number;
  /** tables in the pool (geo.tables ?? geo.regions) */
  readonly tables: number;
  /** per-table pool words (TABLE), only when geo.tables is given */
  readonly tableMetaBase: number;
  readonly frameBase: number;
  readonly traceBase: number;
  /** CPU 0's ring length (the others': geo.traceRing) */
  readonly mutatorRing: number;
  readonly firstRaceBase: number;
  /** in BigInt64 words */
  readonly statBase64: number;

  constructor(geo: Geometry, sab?: SharedArrayBuffer) {
    this.geo = geo;
    if (geo.frames % geo.ptes !== 0)
      throw new Error(`${geo.frames} frames is not a whole number of ${geo.ptes}-frame blocks`);
    this.frameWords = FRAME_WORDS;
    let w = CTL_LINES * LINE_WORDS;
    this.cpuBase = w;
    w += allCpus(geo) * CPU_LINES * LINE_WORDS;
    this.regionBase = w;
    w += geo.regions * LINE_WORDS;
    this.tableBase = w;
    this.tables = geo.tables ?? geo.regions;
    w += roundUp(this.tables * geo.ptes, LINE_WORDS);
    this.tableMetaBase = w;
    if (geo.tables !== undefined) w += roundUp(this.tables * TABLE_META_WORDS, LINE_WORDS);
    this.frameBase = w;
    w += roundUp(geo.frames * this.frameWords, LINE_WORDS);
    this.traceBase = w;
    this.mutatorRing = geo.mutatorRing ?? geo.traceRing;
    w += roundUp((this.mutatorRing + (allCpus(geo) - 1) * geo.traceRing) * TRACE_WORDS, LINE_WORDS);
    this.firstRaceBase = w;
    w += roundUp(FIRST_RACE_MAX_ENTRIES * (TRACE_WORDS + 2), LINE_WORDS);
    this.statBase64 = w / 2;
    w += allCpus(geo) * STAT_LINES * LINE_WORDS;
    const bytes = w * 4;
    this.sab = sab ?? new SharedArrayBuffer(bytes);
    if (this.sab.byteLength < bytes) {
      throw new Error(`shared memory is ${this.sab.byteLength} bytes, geometry needs ${bytes}`);
    }
    this.i32 = new Int32Array(this.sab);
    this.i64 = new BigInt64Array(this.sab);
  }

  cpuA(cpu: number, field: number): number {
    return this.cpuBase + cpu * CPU_LINES * LINE_WORDS + field;
  }
  cpuB(cpu: number, field: number): number {
    return this.cpuBase + (cpu * CPU_LINES + 1) * LINE_WORDS + field;
  }
  region(r: number, field: number): number {
    return this.regionBase + r * LINE_WORDS + field;
  }
  pmd(r: number): number {
    return this.regionBase + r * LINE_WORDS;
  }
  /** Entry j of PTE table `table` (each region owns one table, reinstalled with the same value). */
  pte(table: number, j: number): number {
    return this.tableBase + table * this.geo.ptes + j;
  }
  /** Pool word `field` (TABLE) of table `t`; only when geo.tables is given. */
  table(t: number, field: number): number {
    return this.tableMetaBase + t * TABLE_META_WORDS + field;
  }
  frame(f: number, field: number): number {
    return this.frameBase + f * this.frameWords + field;
  }
  frameData(f: number): number {
    return this.frameBase + f * this.frameWords + FRAME.data;
  }
  /** Entries in CPU `cpu`'s trace ring. */
  ringLength(cpu: number): number {
    return cpu === 0 ? this.mutatorRing : this.geo.traceRing;
  }
  trace(cpu: number, slot: number, field: number): number {
    const first = cpu === 0 ? 0 : this.mutatorRing + (cpu - 1) * this.geo.traceRing;
    return this.traceBase + (first + slot) * TRACE_WORDS + field;
  }
  /** first race entry e: TRACE_WORDS fields, then cpu, then role */
  firstRace(e: number, field: number): number {
    return this.firstRaceBase + e * (TRACE_WORDS + 2) + field;
  }
  stat(cpu: number, s: number): number {
    return this.statBase64 + cpu * STAT_LINES * (LINE_WORDS / 2) + s;
  }

  load(i: number): number {
    return Atomics.load(this.i32, i);
  }
  store(i: number, v: number): void {
    Atomics.store(this.i32, i, v);
  }

  /** Sum of one statistic over all CPUs. */
  statTotal(s: number): number {
    let t = 0n;
    for (let c = 0; c < this.geo.cpus; c++) t += Atomics.load(this.i64, this.stat(c, s));
    return Number(t);
  }
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}
